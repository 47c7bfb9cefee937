# Images come only from trusted registries (StackConfig.trustedRegistries).
# NIST SP 800-171 3.4.8 (allow-list of software), CMMC CM.L2-3.4.8.
package k8shardenedallowedregistries

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

# An image without a registry host is pulled from Docker Hub: judge it by its full name, so
# "istio/proxyv2" is "docker.io/istio/proxyv2" and "nginx" is "docker.io/library/nginx".
full_name(image) := image if {
	parts := split(image, "/")
	count(parts) > 1
	regex.match(`[.:]|^localhost$`, parts[0])
} else := concat("/", ["docker.io", image]) if {
	count(split(image, "/")) > 1
} else := concat("/", ["docker.io/library", image])

trusted(image) if {
	some r in input.parameters.registries
	prefix := trim_suffix(r, "/")
	startswith(full_name(image), concat("", [prefix, "/"]))
}

violation contains {"msg": msg, "details": {"container": c.name, "image": c.image}} if {
	some c in all_containers
	not trusted(c.image)
	msg := sprintf("%v: container %v image %v is not from a trusted registry %v", [object_name, c.name, c.image, input.parameters.registries])
}
