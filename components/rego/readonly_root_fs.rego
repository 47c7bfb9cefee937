# Containers run with a read-only root filesystem (writable paths are emptyDir volumes).
# NIST SP 800-171 3.4.6 (least functionality), CIS Kubernetes 5.7.
package k8shardenedreadonlyrootfilesystem

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

violation contains {"msg": msg, "details": {"container": c.name}} if {
	some c in all_containers
	object.get(c, ["securityContext", "readOnlyRootFilesystem"], false) != true
	msg := sprintf("%v: container %v must set securityContext.readOnlyRootFilesystem: true", [object_name, c.name])
}
