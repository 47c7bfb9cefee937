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

# Named exemptions (parameter `exemptions`, from policy_pack/exemptions.yaml): ONE object in ONE
# namespace, never the namespace. An entry lifts the rule for the object it names (exact kind and
# name) and for the pods its controller creates (owner reference; a Deployment's ReplicaSet or a
# CronJob's Job is `<name>-<hash>`; the request must come from the Kubernetes controller that
# creates them, as an owner reference alone is anyone's to write), and only while EVERY image is
# from the entry's repositories.
review_namespace := input.review.namespace if {
	object.get(input.review, "namespace", "") != ""
} else := object.get(input.review.object, ["metadata", "namespace"], "")

exempt_object if {
	some e in object.get(input, ["parameters", "exemptions"], [])
	e.namespace == review_namespace
	names_object(e)
	every c in all_containers {
		image_exempt(e, c.image)
	}
}

names_object(e) if {
	input.review.object.kind == e.kind
	object.get(input.review.object, ["metadata", "name"], "") == e.name
}

# kube-controller-manager's identities (one service account per controller, kubernetes
# plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go; or its own user when it
# runs without --use-service-account-credentials).
controller_users := {
	"system:kube-controller-manager",
	"system:serviceaccount:kube-system:cronjob-controller",
	"system:serviceaccount:kube-system:daemon-set-controller",
	"system:serviceaccount:kube-system:deployment-controller",
	"system:serviceaccount:kube-system:job-controller",
	"system:serviceaccount:kube-system:replicaset-controller",
	"system:serviceaccount:kube-system:statefulset-controller",
}

names_object(e) if {
	object.get(input.review, ["userInfo", "username"], "") in controller_users
	some owner in object.get(input.review.object, ["metadata", "ownerReferences"], [])
	owner.controller == true
	owner.kind == e.kind
	owner.name == e.name
}

names_object(e) if {
	object.get(input.review, ["userInfo", "username"], "") in controller_users
	some owner in object.get(input.review.object, ["metadata", "ownerReferences"], [])
	owner.controller == true
	[owner.kind, e.kind] in {["ReplicaSet", "Deployment"], ["Job", "CronJob"]}
	startswith(owner.name, concat("", [e.name, "-"]))
	not contains(substring(owner.name, count(e.name) + 1, -1), "-")
}

image_exempt(e, _) if count(object.get(e, "images", [])) == 0

image_exempt(e, image) if {
	some repository in e.images
	repository_of(image) == repository
}

# `registry/path` of an image without tag or digest, as the container runtime reads it (no
# registry host means Docker Hub, a single name there is library/<name>).
repository_of(image) := docker_hub(trim_tag(split(image, "@")[0]))

trim_tag(name) := substring(name, 0, i) if {
	i := indexof_last(name, ":")
	i > indexof_last(name, "/")
} else := name

indexof_last(s, ch) := count(s) - 1 - indexof(strings.reverse(s), ch) if contains(s, ch)

indexof_last(s, ch) := -1 if not contains(s, ch)

docker_hub(name) := name if {
	first := split(name, "/")[0]
	count(split(name, "/")) > 1
	regex.match(`[.:]|^localhost$`, first)
} else := concat("/", ["docker.io", name]) if {
	count(split(name, "/")) > 1
} else := concat("/", ["docker.io/library", name])

# --- end of shared helpers --------------------------------------------------------------------

resource_containers contains c if some c in pod_spec.containers

resource_containers contains c if some c in pod_spec.initContainers

violation contains {"msg": msg, "details": {"container": c.name, "resource": r}} if {
	not exempt_object
	some c in resource_containers
	some r in ["cpu", "memory"]
	object.get(c, ["resources", "requests", r], null) == null
	msg := sprintf("%v: container %v has no %v request; set resources.requests.%v", [object_name, c.name, r, r])
}

violation contains {"msg": msg, "details": {"container": c.name, "resource": r}} if {
	not exempt_object
	some c in resource_containers
	some r in ["cpu", "memory"]
	object.get(c, ["resources", "limits", r], null) == null
	msg := sprintf("%v: container %v has no %v limit; set resources.limits.%v", [object_name, c.name, r, r])
}

violation contains {"msg": msg, "details": {"container": c.name, "resource": r}} if {
	not exempt_object
	some c in resource_containers
	some r in ["cpu", "memory"]
	limit := c.resources.limits[r]
	maximum := input.parameters[r]
	units.parse(sprintf("%v", [limit])) > units.parse(sprintf("%v", [maximum]))
	msg := sprintf("%v: container %v %v limit %v exceeds the maximum %v", [object_name, c.name, r, limit, maximum])
}
