"""A pack that judges nothing, for measuring the protocol floor (see PulumiPolicy.yaml).

pulumi_policy requires at least one policy; a stack policy is chosen because the SDK's
``Analyze`` skips stack policies without converting the request, so each per-resource call
costs only gRPC and the SDK's dispatch.
"""
from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy


def _judge_nothing(args, report_violation) -> None:
    """Accept every stack."""


PolicyPack(
    name="protocol-floor",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[StackValidationPolicy(name="judge-nothing", description="Reports nothing.",
                                    validate=_judge_nothing)],
)
