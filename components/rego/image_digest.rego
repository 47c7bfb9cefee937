# Images are pinned by digest (tags such as :latest are mutable; a digest is what was signed).
# NIST SP 800-171 3.14.1 / 3.4.1 (baseline), CIS Kubernetes 5.5.1.
package k8shardenedimagedigest

# --- shared helpers (identical in every template; tests check they stay identical) ---------------
# The pod spec of the reviewed object: a Pod, a pod template (Deployment, StatefulSet, DaemonSet,
# ReplicaSet, Job) or a CronJob, so a bad Deployment is refused before its ReplicaSet exists.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

pod_spec := input.review.object.spec if input.review.object.kind == "Pod"

pod_spec := input.review.object.spec.template.spec if input.review.object.kind in template_kinds

pod_spec := input.review.object.spec.jobTemplate.spec.template.spec if input.review.object.kind == "CronJob"

object_name := sprintf("%v/%v", [input.review.object.kind, object.get(input.review.object, ["metadata", "name"], "")])

all_containers contains c if some c in pod_spec.containers

all_containers contains c if some c in pod_spec.initContainers

all_containers contains c if some c in pod_spec.ephemeralContainers
# --- end of shared helpers --------------------------------------------------------------------

# Named exceptions (parameter exemptImages): an exact image, or a prefix ending in "*", e.g. the
# mesh proxy the injector adds by tag. Empty by default.
exempt(image) if {
	some pattern in object.get(input, ["parameters", "exemptImages"], [])
	endswith(pattern, "*")
	startswith(image, trim_suffix(pattern, "*"))
}

exempt(image) if {
	some pattern in object.get(input, ["parameters", "exemptImages"], [])
	pattern == image
}

violation contains {"msg": msg, "details": {"container": c.name, "image": c.image}} if {
	some c in all_containers
	not exempt(c.image)
	not regex.match(`@sha256:[a-f0-9]{64}$`, c.image)
	msg := sprintf("%v: container %v image %v is not pinned by digest; use <image>@sha256:<digest>", [object_name, c.name, c.image])
}
