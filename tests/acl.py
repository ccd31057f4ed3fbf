"""Grant ACLs on the stack's SASL listener (tests only). aiokafka has no public create_acls, so
this sends Kafka's CreateAcls request through its admin client over the PLAINTEXT listener, whose
ANONYMOUS user is a super user in the local stack."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

TOPIC, GROUP, TRANSACTIONAL_ID = 2, 3, 5  # Kafka's ResourceType codes
LITERAL = 3  # PatternType
ALL = 2  # AclOperation
ALLOW = 3  # AclPermissionType


async def allow_all(
    bootstrap: str,
    user: str,
    *,
    topics: list[str] = (),  # type: ignore[assignment]
    groups: list[str] = (),  # type: ignore[assignment]
    transactional_ids: list[str] = (),  # type: ignore[assignment]
) -> None:
    """Allow `user` every operation on the named resources (and nothing else)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for kind, names in ((TOPIC, topics), (GROUP, groups), (TRANSACTIONAL_ID, transactional_ids)):
            for name in names:
                request = CreateAclsRequest(kind, name, LITERAL, f"User:{user}", "*", ALL, ALLOW)
                response = await admin._send_request(request)  # no public API for CreateAcls
                for error_code, message in response.creation_responses:
                    if error_code:
                        raise RuntimeError(f"CreateAcls {name}: error {error_code} {message}")
    finally:
        await admin.close()
