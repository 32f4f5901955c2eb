-- fsguard schema pgsql V002: offenders_unique. One row per (address, identity, kind): merge duplicates first.
update v_fsguard_offenders o set failure_count = s.total, first_seen = s.first_seen, last_seen = s.last_seen
from (select ip_address, user_identity, event_kind, sum(failure_count) as total, min(first_seen) as first_seen,
      max(last_seen) as last_seen, max(fsguard_offender_uuid::text) as keep
      from v_fsguard_offenders group by ip_address, user_identity, event_kind having count(*) > 1) s
where o.fsguard_offender_uuid::text = s.keep;
delete from v_fsguard_offenders a using v_fsguard_offenders b
where a.ip_address = b.ip_address and a.user_identity = b.user_identity and a.event_kind = b.event_kind
and a.fsguard_offender_uuid::text < b.fsguard_offender_uuid::text;
create unique index if not exists v_fsguard_offenders_unique_idx on v_fsguard_offenders (ip_address, user_identity, event_kind);
create index if not exists v_fsguard_offenders_last_seen_idx on v_fsguard_offenders (last_seen);
