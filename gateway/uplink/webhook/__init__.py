"""The webhook uplink profile: signed JSON POST batches to the operator's receiver.
docs/platform.md "## webhook profile" is the receiver's contract.

- ``codec``    pure: the body, the signature headers, status verdicts, the reply
- ``settings`` URL, secret, timeouts from the validated configuration
- ``batches``  the stored bodies (``batches`` table) that make every retry byte-identical
- ``engine``   ``WebhookUplink``: store states, retries with backoff, dead letters, alarms
"""
from sitegate.uplink.webhook.codec import signature
from sitegate.uplink.webhook.engine import WebhookUplink
from sitegate.uplink.webhook.settings import WebhookSettings

__all__ = ["WebhookUplink", "WebhookSettings", "signature"]
