"""``fsguard drill``: play a short attack from throwaway addresses and prove each protection held.

Parts (small stages, each testable alone):

* :mod:`.ledger`  records everything the drill creates *before* creating it, so an interrupted run
  (or a later one) removes it all;
* :mod:`.netns`   the network namespaces (prefix ``fsgd-``), veth pair and throwaway addresses;
* :mod:`.sip`     SIP message building/parsing and digest authentication;
* :mod:`.fslog`   FreeSWITCH's freeswitch.log line format (what the stand-in PBX writes);
* :mod:`.pbx`     the stand-in PBX: a SIP responder answering as FreeSWITCH 1.10.12 does;
* :mod:`.client`  the attackers' and customers' SIP user agents;
* :mod:`.report`  step results, the human-readable report and ``--json``;
* :mod:`.runner`  the orchestration of the four steps.
"""
