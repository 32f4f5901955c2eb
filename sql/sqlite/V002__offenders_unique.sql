-- fsguard schema sqlite V002: offenders_unique. One row per (address, identity, kind): merge duplicates first.
update v_fsguard_offenders set
failure_count = (select sum(b.failure_count) from v_fsguard_offenders b where b.ip_address = v_fsguard_offenders.ip_address
 and b.user_identity = v_fsguard_offenders.user_identity and b.event_kind = v_fsguard_offenders.event_kind),
first_seen = (select min(b.first_seen) from v_fsguard_offenders b where b.ip_address = v_fsguard_offenders.ip_address
 and b.user_identity = v_fsguard_offenders.user_identity and b.event_kind = v_fsguard_offenders.event_kind),
last_seen = (select max(b.last_seen) from v_fsguard_offenders b where b.ip_address = v_fsguard_offenders.ip_address
 and b.user_identity = v_fsguard_offenders.user_identity and b.event_kind = v_fsguard_offenders.event_kind)
where rowid in (select max(rowid) from v_fsguard_offenders group by ip_address, user_identity, event_kind having count(*) > 1);
delete from v_fsguard_offenders where rowid not in
(select max(rowid) from v_fsguard_offenders group by ip_address, user_identity, event_kind);
create unique index if not exists v_fsguard_offenders_unique_idx on v_fsguard_offenders (ip_address, user_identity, event_kind);
create index if not exists v_fsguard_offenders_last_seen_idx on v_fsguard_offenders (last_seen);
