-- fsguard schema pgsql V001: initial. Generated from fsguard/store/schema.py; do not edit.
create table if not exists v_fsguard_bans (
	fsguard_ban_uuid uuid primary key,
	hostname text,
	ip_address text,
	jail text,
	ban_start double precision,
	ban_end double precision,
	ban_seconds integer,
	failure_count integer,
	matches text,
	user_names text,
	user_agents text,
	restored boolean,
	ban_status text,
	unban_time double precision,
	unban_reason text,
	kernel_status text,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_bans_ip_address_idx on v_fsguard_bans (ip_address);
create index if not exists v_fsguard_bans_ban_status_idx on v_fsguard_bans (ban_status);
create table if not exists v_fsguard_list_entries (
	fsguard_list_entry_uuid uuid primary key,
	list_name text,
	cidr text,
	label text,
	expires double precision,
	entry_enabled boolean,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_list_entries_list_name_idx on v_fsguard_list_entries (list_name);
create table if not exists v_fsguard_offenders (
	fsguard_offender_uuid uuid primary key,
	ip_address text,
	user_identity text,
	event_kind text,
	failure_count integer,
	first_seen double precision,
	last_seen double precision,
	user_agent text,
	whitelist_reason text,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_offenders_last_seen_idx on v_fsguard_offenders (last_seen);
create unique index if not exists v_fsguard_offenders_unique_idx on v_fsguard_offenders (ip_address, user_identity, event_kind);
create table if not exists v_fsguard_feeds (
	fsguard_feed_uuid uuid primary key,
	feed_name text,
	feed_url text,
	feed_enabled boolean,
	last_attempt double precision,
	last_success double precision,
	last_status text,
	last_error text,
	entry_count integer,
	added_count integer,
	removed_count integer,
	rejected_count integer,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_feeds_feed_name_idx on v_fsguard_feeds (feed_name);
create table if not exists v_fsguard_events (
	fsguard_event_uuid uuid primary key,
	event_time double precision,
	event_kind text,
	ip_address text,
	user_name text,
	domain_name text,
	number text,
	user_agent text,
	profile_name text,
	method text,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_events_event_time_idx on v_fsguard_events (event_time);
create index if not exists v_fsguard_events_ip_address_idx on v_fsguard_events (ip_address);
create table if not exists v_fsguard_actions (
	fsguard_action_uuid uuid primary key,
	action_name text,
	action_argument text,
	action_label text,
	action_status text,
	action_result text,
	requested_by text,
	action_expires double precision,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_actions_action_status_idx on v_fsguard_actions (action_status);
create table if not exists v_fsguard_cluster_bans (
	fsguard_cluster_ban_uuid uuid primary key,
	node_name text,
	ip_address text,
	jail text,
	ban_start double precision,
	ban_end double precision,
	ban_seconds integer,
	ban_status text,
	unban_time double precision,
	unban_node text,
	unban_reason text,
	published_at double precision,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_cluster_bans_ip_address_idx on v_fsguard_cluster_bans (ip_address);
create index if not exists v_fsguard_cluster_bans_ban_status_idx on v_fsguard_cluster_bans (ban_status);
create table if not exists v_fsguard_cluster_nodes (
	fsguard_cluster_node_uuid uuid primary key,
	node_name text,
	last_seen double precision,
	started_at double precision,
	outbox_size integer,
	apply_lag double precision,
	bans_applied integer,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_cluster_nodes_node_name_idx on v_fsguard_cluster_nodes (node_name);
create table if not exists v_fsguard_cluster_registrations (
	fsguard_cluster_registration_uuid uuid primary key,
	node_name text,
	ip_address text,
	user_name text,
	realm text,
	expires double precision,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_cluster_registrations_node_name_idx on v_fsguard_cluster_registrations (node_name);
create index if not exists v_fsguard_cluster_registrations_expires_idx on v_fsguard_cluster_registrations (expires);
create table if not exists v_fsguard_cluster_files (
	fsguard_cluster_file_uuid uuid primary key,
	file_name text,
	file_body text,
	file_sha256 text,
	fetched_at double precision,
	node_name text,
	insert_date timestamptz,
	insert_user uuid,
	update_date timestamptz,
	update_user uuid
);
create index if not exists v_fsguard_cluster_files_file_name_idx on v_fsguard_cluster_files (file_name);
