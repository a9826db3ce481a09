"""Hikvision access-control (face) terminals over ISAPI: HTTP with digest authentication.

- ``codes`` / ``multipart`` / ``codec``: pure parsing and building of pushed events, AcsEvent
  searches, UserInfo bodies, face uploads and ISAPI status answers.
- ``digest``: server-side RFC 7616 digest verification (the simulator's, and a reference).
- ``client`` / ``serials`` / ``server`` / ``driver``: the ``hik-isapi`` driver: events pushed to
  its listener, gaps and downtime filled by AcsEvent searches, users pushed to the terminal.
- ``terminal`` / ``simulator``: a terminal speaking ISAPI (``sitegate sim hik``).

Sources: Hikvision ``EventType.kt`` constants (HEOP demo), ISAPI developer-guide excerpts and
webhook parsers, summarised in ../shared/reference/protocols.md §4.
"""
