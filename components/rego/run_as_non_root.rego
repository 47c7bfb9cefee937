# Containers never run as root: runAsNonRoot true (container or pod level) and no UID 0.
# NIST SP 800-171 3.1.5 (least privilege), CIS Kubernetes 5.2.6.
package k8shardenedrunasnonroot

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

pod_context := object.get(pod_spec, "securityContext", {})

non_root(c) if object.get(c, ["securityContext", "runAsNonRoot"], null) == true

non_root(c) if {
	object.get(c, ["securityContext", "runAsNonRoot"], null) == null
	object.get(pod_context, "runAsNonRoot", null) == true
}

uid(c) := u if {
	u := c.securityContext.runAsUser
} else := u if {
	u := pod_context.runAsUser
}

violation contains {"msg": msg, "details": {"container": c.name}} if {
	some c in all_containers
	not non_root(c)
	msg := sprintf("%v: container %v must set runAsNonRoot: true (container or pod securityContext)", [object_name, c.name])
}

violation contains {"msg": msg, "details": {"container": c.name}} if {
	some c in all_containers
	uid(c) == 0
	msg := sprintf("%v: container %v runs as UID 0; use a UID above 10000", [object_name, c.name])
}
