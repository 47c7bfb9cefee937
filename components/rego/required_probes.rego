# Every (non-init) container declares the required probes (liveness and readiness by default).
# NIST SP 800-171 3.14.6 (monitoring), availability of the platform.
package k8shardenedrequiredprobes

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

# A Job's pods serve no traffic, so readiness is not asked of batch workloads; liveness still is
# (a hung job is restarted before its deadline).
batch_kinds := {"Job", "CronJob"}

required contains p if {
	some p in input.parameters.probes
	not input.review.object.kind in batch_kinds
}

required contains p if {
	some p in input.parameters.probes
	input.review.object.kind in batch_kinds
	p != "readinessProbe"
}

violation contains {"msg": msg, "details": {"container": c.name, "probe": p}} if {
	some c in pod_spec.containers
	some p in required
	not c[p]
	msg := sprintf("%v: container %v has no %v", [object_name, c.name, p])
}
