"""fsguard's fail2ban filters, rendered as text (fail2ban's own config syntax).

Three filters, each with a file and a journald variant (fail2ban sets ``logtype = journal`` when
the jail's backend is ``systemd``; the filter picks its prefix from ``_pre_<logtype>``):

- ``fsguard-events``: fsguard's own event lines (every kind; ``mode = auth | scan | all`` narrows
  the kinds). The body comes from :func:`fs_python.eventline.filter_regex` so the filter and the
  renderer cannot drift apart, and it carries the install's token: a line forged by attacker text
  elsewhere in the log cannot carry it. This is the source of truth, enabled by default.
- ``fsguard-sofia``: sofia's ``SIP auth failure`` (never ``SIP auth challenge``), ``Can't find
  user`` and ``Rejected by (register) acl`` records. Multi-line (``maxlines``): a record counts only
  when the next physical line provably starts a new record, so a folded header that leaves an
  attacker-chosen ``from ip X`` at the end of the genuine line (true IP on the next line, which
  starts with the folding whitespace) counts nothing; an unknown-user REGISTER (``Can't find user``
  + its two continuation lines + the auth failure) counts once. Not enabled by default: a forged
  record printed at column 0 (sip-trace, some unknown-user paths) cannot be told from a real one.
- ``fsguard-fusionpbx``: FusionPBX's ``[inbound routes] 404 not found <ip> ...`` (dialplan ``log``
  app, uuid-prefixed, or the Lua handler), the address taken only from the position FreeSWITCH
  writes ``${sip_network_ip}``; the ``EXECUTE ... log(...)`` echo never counts. Not enabled by
  default either (fsguard's not-found handler writes event lines).

Why the date pattern is ``^(<date> )``: fail2ban cuts the date out before the failregex sees the
line; a line without a date (continuation, or a folded header line that starts with a space) is
matched as-is. Cutting the date *and its trailing space* means a genuine record always reaches the
regex starting with a non-space, while a folded line always starts with whitespace and can never
look like a record. ``\\d`` is never trusted for addresses: an ASCII lookahead guards ``<ADDR>``.
"""

from __future__ import annotations

from fs_python import eventline

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LEVELS = "CONSOLE|ALERT|CRIT|ERR|WARNING|NOTICE|INFO|DEBUG"
# fail2ban config values go through ConfigParser interpolation: every % must be doubled.
IDLE = r"(?:\d{1,3}\.\d\d%% )?"
DATE = r"%%Y-%%m-%%d %%H:%%M:%%S\.%%f"
DATE_MD = r"%%m-%%d %%H:%%M:%%S\.%%f"  # year-less variant (fail2ban gh-2193 sample)
# what the journal variant sees: "<host> <ident>[pid]: " made by fail2ban, then FreeSWITCH's own
# (optional) date when it logs to the console.
JOURNAL_PREFIX = r"^[\w.-]+ [\w.-]+(?:\[\d+\])?: (?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} )?"

# "Can't find user" is followed by two continuation lines (1.10.x; older builds print none).
CANT_FIND_CONT = (
    r"(?:<_nl_<logtype>>You must define a domain called '[^'\n\\]*' in your directory and add a user"
    r" with the id=\"[^\"\n\\]*\" attribute<_nl_<logtype>>and you must configure your device to use"
    r" the proper domain in its authentication credentials\.)?"
)
# sofia.c's ACL rejects: the address is the socket's, the acl name is the admin's own config.
ACL = (
    r"%s\[(?:%s)\] sofia(?:_reg)?\.c:\d+ IP (?=[0-9A-Fa-f.:]{2,45} )<ADDR>" % (IDLE, LEVELS)
    + r" Rejected by (?:register )?acl \"[\w.-]*\""
)
# FusionPBX: ${sip_network_ip} right after "404 not found"; what follows is attacker text.
NOT_FOUND = (
    r"\[WARNING\] (?:mod_dptools\.c|switch_cpp\.cpp|mod_lua\.cpp|[\w.-]+\.lua):\d+ \[inbound routes\]"
    r" 404 not found (?=[0-9A-Fa-f.:]{2,45}(?: |$))<ADDR>(?: [^\n]*)?$"
)

MODES = {
    "auth": ("auth-failure", "acl-reject"),
    "scan": ("not-found", "ip-literal-domain", "challenge", "no-sdp", "scanner-ua"),
    "all": eventline.BAN_KINDS,  # registered-failure never bans (a registration shields its identity)
}


def _kinds_lookahead(kinds: tuple[str, ...]) -> str:
    # also: the address position holds ASCII address characters only (\d would take fullwidth digits)
    return r"(?=FSGUARD \S+ (?:%s) [0-9A-Fa-f.:]{2,45}(?: |$))" % "|".join(kinds)


def _fields_regex() -> str:
    """The key="value" pairs in eventline's fixed order; ``user`` captured as <F-USER>."""
    parts = []
    for key in eventline.FIELDS:
        if key == "user":
            parts.append(r'(?: user="<F-USER>[^"]*</F-USER>"~?)?')
        else:
            parts.append(r'(?: %s="[^"]*"~?)?' % key)
    return "".join(parts)


# The events filter keeps the date in what the regex sees: its datepattern cuts only the year (a
# capture in a lookahead: fail2ban cuts group 1 and parses the time from the named fields), so the
# failregex itself requires "-MM-DD HH:MM:SS.ffffff " at the start and a line without a date never
# counts, whatever fail2ban does with undated lines (it reuses the last date seen).
EVENTS_DATEPATTERN = r"^(?=(\d{4}))%%Y-%%m-%%d %%H:%%M:%%S\.%%f "
EVENTS_DATE_REST = r"-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} "


def events_filter(token: str, *more_tokens: str) -> str:
    """filter.d/fsguard-events.conf for this install's token (and, during a rotation's grace
    period, the previous one)."""
    body = eventline.filter_regex(token, *more_tokens)  # raises ValueError on a bad token
    head = r"%s\[WARNING\] %s:%d" % (IDLE, eventline.LOG_FILE, eventline.LOG_LINE)
    modes = "\n".join(
        "mode_%s = %s" % (name, _kinds_lookahead(kinds)) for name, kinds in MODES.items()
    )
    return f"""# fsguard: fsguard's own event lines (rendered by fsguard; do not edit, re-render).
# Token-bound: only lines carrying this install's token count. mode = auth | scan | all.
[INCLUDES]
before =

[Definition]
mode = all
{modes}
_pre_file = ^{EVENTS_DATE_REST}{head}
_pre_journal = {JOURNAL_PREFIX}{head}
failregex = <_pre_<logtype>>[ ]<mode_<mode>>{body}{_fields_regex()}$
ignoreregex =
# The date must start the line; only its year is cut (see filters.py), the rest stays for the regex.
datepattern = {EVENTS_DATEPATTERN}

[Init]
logtype = file
maxlines = 1
journalmatch = _SYSTEMD_UNIT=freeswitch.service
"""


def sofia_filter() -> str:
    """filter.d/fsguard-sofia.conf (multi-line; see the module docstring)."""
    return r"""# fsguard: sofia's own failure records (rendered by fsguard; do not edit, re-render).
# A record counts only when the next line starts a new record (proof it ended on its line).
# Not enabled by default: fsguard's event lines are the source of truth.
[INCLUDES]
before =

[Definition]
_uuid = %(uuid)s
# a record start as the regex sees it (date and its trailing space already cut by fail2ban)
_rs = (?:<_uuid> )?%(idle)s\[(?:%(levels)s|WARN)\] (?:\[\w+\] \[)?[\w.-]+:\d+\]?[ ]
# 1.10 writes "[WARNING] sofia_reg.c:N"; some builds "[WARN] [SOFIA] [sofia_reg.c:N]" (fail2ban gh-2193)
_w = %(idle)s(?:\[WARNING\] sofia_reg\.c:\d+|\[WARN\] \[SOFIA\] \[sofia_reg\.c:\d+\])[ ]
_usr = [^\[\]@\s\\'"]*
_dom = [^\[\]@\s\\'"]*
_ip = (?=[0-9A-Fa-f.:]{2,45}(?:\n|\\n|$))<ADDR>
_ip2 = [0-9A-Fa-f.:]{2,45}
_af = SIP auth failure \((?:REGISTER|INVITE)\) on sofia profile '[\w.-]+' for[ ]
# file: continuation lines are physical lines; journal: one entry per record, newlines escaped
_nl_file = \n
_nl_journal = \\n
# file: a record follows a newline (a literal first character lets Python's re skip to line starts
# instead of trying every position: the multi-line search stays as fast as the stock filter), or
# starts the buffer (\A: tried at one position only). Journal: the entry's own prefix (both equal).
_pre_file = \n
_pre_journal = %(journal)s
_first_file = \A
_first_journal = %(journal)s
_sep_file = \n
_sep_journal = \n%(journal)s
_end_file = \n(?=<_rs>)
_end_journal = $(?=\n%(journal)s)
_last_file = \n(?=<_rs>)
_last_journal = $
_notaf_file = (?!<_w><_af>\[(?P=user)@)
_notaf_journal = (?!\n%(journal)s<_w><_af>\[(?P=user)@)
_cfu = <_w>Can't find user \[<F-USER><_usr></F-USER>@<_dom>\] from <_ip>%(cont)s
# unknown user: followed by its own auth failure (one failure for both), or by anything else
_then_af = <_sep_<logtype>><_w><_af>\[<_usr>@<_dom>\] from ip <_ip2><_last_<logtype>>
_then_other = <_end_<logtype>><_notaf_<logtype>>
_unknown = <_cfu>(?:<_then_af>|<_then_other>)
_failure = <_w><_af>\[<F-USER><_usr></F-USER>@<_dom>\] from ip <_ip><_last_<logtype>>
_acl = %(acl)s<_last_<logtype>>
failregex = <_pre_<logtype>><_unknown>
            <_first_<logtype>><_unknown>
            <_pre_<logtype>><_failure>
            <_first_<logtype>><_failure>
            <_pre_<logtype>><_acl>
            <_first_<logtype>><_acl>
ignoreregex =
datepattern = ^(%(date)s )
              ^%(uuid)s (%(date)s )
              ^(%(date_md)s )

[Init]
logtype = file
maxlines = 6
journalmatch = _SYSTEMD_UNIT=freeswitch.service
""" % {"uuid": UUID, "idle": IDLE, "levels": LEVELS, "date": DATE, "journal": JOURNAL_PREFIX,
       "date_md": DATE_MD, "cont": CANT_FIND_CONT, "acl": ACL}


def fusionpbx_filter() -> str:
    """filter.d/fsguard-fusionpbx.conf: FusionPBX's inbound-routes 404 line."""
    return r"""# fsguard: FusionPBX's "[inbound routes] 404 not found <ip> ..." (rendered by fsguard).
# The address is ${sip_network_ip}, written right after "404 not found"; everything after it is
# attacker text (destination_number, sip_to_user, ...) and is never read.
[INCLUDES]
before =

[Definition]
_pre_file = ^(?:%(uuid)s )?
_pre_journal = %(journal)s
failregex = <_pre_<logtype>>%(idle)s%(notfound)s
ignoreregex =
datepattern = ^(%(date)s )
              ^%(uuid)s (%(date)s )

[Init]
logtype = file
maxlines = 1
journalmatch = _SYSTEMD_UNIT=freeswitch.service
""" % {"uuid": UUID, "idle": IDLE, "date": DATE, "journal": JOURNAL_PREFIX, "notfound": NOT_FOUND}
