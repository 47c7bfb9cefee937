# No hostPath volumes: a host directory in a pod is a path out of the container.
# NIST SP 800-171 3.13.4 (shared resources), CIS Kubernetes 5.2.12.
package k8shardenednohostpath

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

violation contains {"msg": msg, "details": {"volume": v.name}} if {
	some v in object.get(pod_spec, "volumes", [])
	v.hostPath
	msg := sprintf("%v: volume %v mounts host path %v; use an emptyDir, a PVC or a CSI volume", [object_name, v.name, v.hostPath.path])
}
