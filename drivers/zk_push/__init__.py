"""ZKTeco PUSH ("ADMS" / "iclock") face and attendance terminals: the terminal calls the gateway.

- ``codec`` / ``records`` / ``commands`` / ``codes``: pure parsing and building of the plain-text
  protocol (handshake options, ATTLOG / rtlog / OPERLOG bodies, ``C:<id>:`` commands, devicecmd
  results).
- ``sync``: the command queue that makes the terminal's user list equal the roster.
- ``server`` / ``driver``: the HTTP endpoint one terminal calls, and the ``zk-push`` driver.
- ``terminal`` / ``simulator``: a terminal speaking the same protocol (``sitegate sim zk-push``).

Sources: ZKTeco PushDemo (``PushUtil``), RodrigoAWeber/example-zkteco-push-protocol-communication,
@palmcode/zkteco-iclock-parser; summarised in ../shared/reference/protocols.md §3.
"""
