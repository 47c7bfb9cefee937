# Every container and init container requests and limits CPU and memory, with limits no larger than
# the configured maxima (the same rule as the pack's container-missing-resource-limits).
# NIST SP 800-171 3.13.1 (availability of shared nodes), CIS Kubernetes 5.7.
package k8shardenedcontainerlimits

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

resource_containers contains c if some c in pod_spec.containers

resource_containers contains c if some c in pod_spec.initContainers

violation contains {"msg": msg, "details": {"container": c.name, "resource": r}} if {
	some c in resource_containers
	some r in ["cpu", "memory"]
	object.get(c, ["resources", "requests", r], null) == null
	msg := sprintf("%v: container %v has no %v request; set resources.requests.%v", [object_name, c.name, r, r])
}

violation contains {"msg": msg, "details": {"container": c.name, "resource": r}} if {
	some c in resource_containers
	some r in ["cpu", "memory"]
	object.get(c, ["resources", "limits", r], null) == null
	msg := sprintf("%v: container %v has no %v limit; set resources.limits.%v", [object_name, c.name, r, r])
}

violation contains {"msg": msg, "details": {"container": c.name, "resource": r}} if {
	some c in resource_containers
	some r in ["cpu", "memory"]
	limit := c.resources.limits[r]
	maximum := input.parameters[r]
	units.parse(sprintf("%v", [limit])) > units.parse(sprintf("%v", [maximum]))
	msg := sprintf("%v: container %v %v limit %v exceeds the maximum %v", [object_name, c.name, r, limit, maximum])
}
