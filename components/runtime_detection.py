"""``RuntimeDetection``: Falco with the modern eBPF driver, the stack's own detection rules, and
falcosidekick forwarding every alert to the SIEM (issue 6).

* Upstream chart ``falcosecurity/falco`` (pinned: 9.1.0, Falco 0.44.1) as a DaemonSet with
  ``driver.kind: modern_ebpf`` (CO-RE probe built into Falco: no kernel module, no driver-loader
  init container, no kernel headers). The legacy ``kmod`` and ``ebpf`` drivers are refused by
  validation. Falco calls no Kubernetes API: its ServiceAccount (written here, the chart has no
  such setting) mounts no token.
* Rules: rendered from ``templates/falco_rules.yaml.j2`` (jinja2, StrictUndefined), validated
  (YAML, required keys, Falco priorities, balanced parentheses) and snapshot-tested: a shell
  spawned in a container of any tenant image of the stack (the seed matched ``lego-mcp`` by
  substring; here the exact repositories of ``workloads[*].image``), crypto miners (xmrig,
  ethminer, Stratum pool URLs), plus ``runtimeDetection.extraRules``.
* falcosidekick (2.32.0) forwards to Splunk HEC (https only) and/or syslog. The component deploys
  it itself (restricted Deployment, ServiceAccount without token, PDB, Service), not through the
  chart's falcosidekick subchart: that subchart (0.12.x) always writes a Secret holding every
  output's settings as literal data. Its settings are environment variables; the HEC token comes
  from the Secret ``falco/falcosidekick-siem`` (``secretKeyRef``), never a value. That Secret
  comes from Vault through External Secrets when ``siem.splunk.tokenVaultKey`` is set (prod: the
  seed's ``lego-mcp/splunk#hec_token``; nothing in Pulumi state), or else from the Pulumi secret
  ``hardened-stack:splunkHecToken`` (a Pulumi secret end to end, redacted in every render; the
  policy pack needs the named exemption ``falcosidekick-siem-token`` for it).
* Namespace ``falco``: Pod Security level from ``policy_pack/exemptions.yaml`` (entry
  ``falco-driver``: the probe needs a privileged root container with host paths), default-deny,
  and only: Falco -> falcosidekick on 2801, falcosidekick -> the SIEM. With the mesh, falcosidekick
  carries a sidecar and reaches the Splunk HEC host through the egress gateway only
  (components.egress; Falco's port 2801 and the VPC endpoints' ranges stay outside the proxy:
  :func:`sidekick_mesh_metadata`). Without it (and for syslog, plain TCP or UDP with no SNI to
  route by) NetworkPolicy cannot name a host, so the SIEM egress is "the internet except private,
  CGNAT and link-local ranges" on exactly the SIEM ports (``siem.cidrs`` narrows it to the SIEM's
  own addresses when known).
* falcoctl (rule downloads from the internet at runtime) is off: the rules that run are the ones
  in the image plus the ones rendered here, reviewed in Git.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, Optional
from urllib.parse import urlsplit

import jinja2
import pulumi
import yaml
from pydantic import Field, field_validator, model_validator

from .base import weakens
from .base import Cidr, CidrExcept, Digest
from .base import HardenedComponent, StrictModel, child_opts, deep_merge, helm_chart, k8s_object, standard_labels
from .imagelock import load as load_image_lock, locked_digest

TOKEN = "hardened:index:RuntimeDetection"

FALCO_CHART = "falco"
FALCO_REPO = "https://falcosecurity.github.io/charts"
#: What runs with falcoctl and the driver loader off: Falco and falcosidekick.
IMAGE_REPOSITORIES = ("docker.io/falcosecurity/falco", "docker.io/falcosecurity/falcosidekick")
NAMESPACE = "falco"
FULLNAME = "falco"
SIDEKICK = "falcosidekick"
SIDEKICK_PORT = 2801
SIEM_SECRET = "falcosidekick-siem"
CONFIG_D_VOLUME = "falco-config-d"
TEMPLATES = Path(__file__).parent / "templates"

#: Falco's rule priorities, most severe first (the ``priority`` field of a rule).
PRIORITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFORMATIONAL", "DEBUG")
SUPPORTED_DRIVERS = ("modern_ebpf",)
LEGACY_DRIVERS = ("kmod", "module", "ebpf")
SHELLS = ("ash", "bash", "csh", "dash", "fish", "ksh", "sh", "tcsh", "zsh")
MINERS = ("ethminer", "minerd", "xmr-stak", "xmrig")
#: The SIEM is outside the cluster: egress to it excludes the private ranges, CGNAT and link-local
#: (instance metadata), so the SIEM ports never reach a cluster service.
DEFAULT_EGRESS_EXCEPT = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:()/-]{2,127}$")
_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def balanced(condition: str) -> bool:
    """Parentheses balance in a Falco condition (quoted strings are skipped)."""
    depth, quote = 0, ""
    for ch in condition:
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quote


def check_host_port(value: str, what: str) -> tuple[str, int]:
    """``host:port`` with a DNS name or IPv4 address and a port 1-65535; no scheme, no credentials."""
    if "://" in value or "@" in value:
        raise ValueError(f"{what} {value!r} must be host:port (e.g. siem.example.com:514), without scheme or "
                         "credentials")
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535 or not _HOST.match(host):
        raise ValueError(f"{what} {value!r} must be host:port with a port 1-65535 (e.g. siem.example.com:514)")
    return host, int(port)


def check_hec_url(value: str) -> tuple[str, int]:
    """A Splunk HEC endpoint: https, a host, an optional port (default 443), no credentials,
    query or fragment (the token travels in a header from a Secret, never in the URL)."""
    parts = urlsplit(value)
    if parts.scheme != "https":
        raise ValueError(f"url {value!r} must use https: the HEC token and the alerts would cross the network "
                         "in clear text otherwise")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValueError(f"url {value!r} carries credentials; remove them: the HEC token is the Pulumi secret "
                         "hardened-stack:splunkHecToken")
    if parts.query or parts.fragment:
        raise ValueError(f"url {value!r} must not have a query or fragment (tokens do not belong in URLs)")
    try:
        port = parts.port or 443
    except ValueError:
        raise ValueError(f"url {value!r} has an invalid port") from None
    if not parts.hostname or not _HOST.match(parts.hostname):
        raise ValueError(f"url {value!r} has no valid host name")
    return parts.hostname, port


HEC_EVENT_PATH = "/services/collector/event"


def hec_endpoint(url: str) -> str:
    """falcosidekick's ``splunk.host`` is the whole endpoint (it posts ``{"event": ...}`` there), so a
    bare ``https://host:port`` gets Splunk's event path; a url with a path is taken as it is."""
    parts = urlsplit(url)
    return url if parts.path not in ("", "/") else url.rstrip("/") + HEC_EVENT_PATH


class FalcoRule(StrictModel):
    """One extra Falco rule (the same fields as in a Falco rules file)."""

    name: str = Field(description="Rule name (Falco's `rule`), unique.")
    desc: str = Field(description="What the rule detects.")
    condition: str = Field(description="Falco condition (filter expression).")
    output: str = Field(description="Alert text with %field placeholders.")
    priority: str = Field("WARNING", description=f"One of {', '.join(PRIORITIES)} (default WARNING).")
    tags: list[str] = Field(default_factory=list, description="Tags (default none); 'hardened-stack' is added.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _RULE_NAME.match(v):
            raise ValueError(f"{v!r} must be 3-128 characters: letters, digits, spaces and _ . : ( ) / -")
        return v

    @field_validator("desc", "output")
    @classmethod
    def _text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()

    @field_validator("condition")
    @classmethod
    def _condition(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("condition must not be empty (a rule without a condition matches nothing Falco accepts)")
        if not balanced(v):
            raise ValueError(f"condition {v!r} has unbalanced parentheses or an unclosed quote")
        unknown = sorted(condition_macros(v) - FALCO_DEFAULT_MACROS)
        if unknown:
            raise ValueError(f"condition uses {', '.join(unknown)}: not a macro of Falco's default rules (known: "
                             f"{', '.join(sorted(FALCO_DEFAULT_MACROS))}); a typo here stops Falco on every node")
        return " ".join(v.split())

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: str) -> str:
        p = v.upper()
        if p == "INFO":
            p = "INFORMATIONAL"
        if p not in PRIORITIES:
            raise ValueError(f"priority {v!r} is not a Falco priority; use one of {', '.join(PRIORITIES)}")
        return p

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for t in v:
            if not _TAG.match(t):
                raise ValueError(f"tag {t!r} must be 1-64 characters of letters, digits and _ . : -")
        return v


class SplunkConfig(StrictModel):
    url: str = Field(description="Splunk HEC endpoint, https only (e.g. https://splunk.example.com:8088; without a "
                                 "path, /services/collector/event is used). The token comes from tokenVaultKey or "
                                 "the Pulumi secret hardened-stack:splunkHecToken.")
    minimum_priority: str = Field("notice", description="Lowest priority forwarded (default notice).", json_schema_extra=weakens('fewer events reach the SIEM (priority above notice)', 'priority_raised'))
    check_cert: bool = Field(True, description="Verify the HEC server certificate (default true).", json_schema_extra=weakens('TLS verification toward the SIEM (Splunk HEC) is off'))
    token_vault_key: Optional[str] = Field(
        None, description="Where the HEC token lives in Vault, 'path/in/kv#property' (e.g. lego-mcp/splunk#hec_token): "
                          "External Secrets syncs it into falcosidekick's Secret, so the token is never in Pulumi "
                          "state or config. Default none: the Pulumi secret hardened-stack:splunkHecToken.")

    @field_validator("token_vault_key")
    @classmethod
    def _vault_key(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.match(r"^[A-Za-z0-9_./-]+#[A-Za-z0-9_.-]+$", v):
            raise ValueError(f"tokenVaultKey {v!r} must look like 'lego-mcp/splunk#hec_token' (KV path, '#', property)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        check_hec_url(v)
        return v

    @property
    def host(self) -> str:
        return check_hec_url(self.url)[0]

    @property
    def port(self) -> int:
        return check_hec_url(self.url)[1]

    @property
    def endpoint(self) -> str:
        """The URL falcosidekick posts to: the HEC event endpoint when the url names no path."""
        return hec_endpoint(self.url)


class SyslogConfig(StrictModel):
    address: str = Field(description="host:port of the syslog collector (e.g. siem.example.com:514). falcosidekick's "
                                     "syslog output has no TLS: alerts travel in clear text, so name a collector on "
                                     "a private network; Splunk HEC is the encrypted path.")
    protocol: Literal["tcp", "udp"] = Field("tcp", description="tcp (default: delivery is acknowledged) or udp.", json_schema_extra=weakens('syslog to the SIEM over UDP: delivery is not acknowledged'))
    format: Literal["json", "cef"] = Field("cef", description="Message format (default cef, the seed's Common Event "
                                                              "Format).")
    minimum_priority: str = Field("notice", description="Lowest priority forwarded (default notice).", json_schema_extra=weakens('fewer events reach the SIEM (priority above notice)', 'priority_raised'))
    allow_cleartext: bool = Field(
        False, description="Accept that alerts cross the network in clear text (default false: refused). "
                           "falcosidekick's syslog output has no TLS (outputs/syslog.go: Go's log/syslog over tcp or "
                           "udp only); forward to the SIEM through siem.splunk (HEC over https) instead, or set this "
                           "for a collector on the same private network, a visible opt-out.",
        json_schema_extra=weakens("alerts cross the network to the SIEM in clear text (syslog has no TLS)"))

    @model_validator(mode="after")
    def _tls(self) -> "SyslogConfig":
        if not self.allow_cleartext:
            raise ValueError("falcosidekick's syslog output has no TLS (outputs/syslog.go dials tcp or udp only): the "
                             "alerts would cross the network in clear text. Send them through siem.splunk (HEC over "
                             "https), or set allowCleartext: true for a collector on the same private network")
        return self

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        check_host_port(v, "address")
        return v

    @property
    def host(self) -> str:
        return check_host_port(self.address, "address")[0]

    @property
    def port(self) -> int:
        return check_host_port(self.address, "address")[1]


class SiemConfig(StrictModel):
    splunk: Optional[SplunkConfig] = Field(None, description="Splunk HEC output (default none).")
    syslog: Optional[SyslogConfig] = Field(None, description="Syslog output (default none).")
    cidrs: list[Cidr] = Field(
        default_factory=list,
        description="The SIEM's own addresses, if known (default none: the internet minus private ranges on the "
                    "SIEM ports, since NetworkPolicy cannot name a host). Setting them narrows the egress to them. "
                    "With the mesh, Splunk HEC goes through the egress gateway instead and this direct rule is kept "
                    "for syslog only (or a HEC URL that names an address).")


class RuntimeDetectionConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('runtime detection (Falco) is off'))
    chart_version: str = Field("9.1.0", description="falcosecurity/falco chart version (default 9.1.0, pinned; "
                                                    "Falco only: falcosidekick is deployed by the component).")
    driver: str = Field("modern_ebpf", description="Falco driver: modern_ebpf only (the default; CO-RE, no kernel "
                                                  "module or driver loader). kmod and ebpf are refused.")
    image_tag: str = Field("0.44.1", description="Falco version (default 0.44.1, the chart's appVersion).")
    image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of docker.io/falcosecurity/falco:<imageTag> (default none: the tag; set it, "
                          "`crane digest falcosecurity/falco:<tag>`, to pin by digest).")
    sidekick_image_tag: str = Field(
        "2.34.1", description="falcosidekick version (default 2.34.1; at least 2.33.0 with the S3 archive: earlier "
                              "releases build their AWS client with no credentials and cannot use IRSA).")
    containerd_socket: str = Field(
        "/run/containerd/containerd.sock",
        description="The node's containerd socket, the only runtime socket Falco mounts (default "
                    "/run/containerd/containerd.sock, EKS's).")
    sidekick_image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of docker.io/falcosecurity/falcosidekick:<tag> (default none: the tag).")
    siem: SiemConfig = Field(default_factory=SiemConfig, description="Where falcosidekick forwards alerts.")
    minimum_priority: str = Field("notice", description="Lowest rule priority Falco loads (default notice).", json_schema_extra=weakens('Falco drops events below a higher priority than notice', 'priority_raised'))
    extra_rules: list[FalcoRule] = Field(default_factory=list, description="Rules added to the stack's own.")
    max_nodes: int = Field(100, ge=1, le=5000, description="Nodes Falco runs on at most (sizes the namespace "
                                                           "quota: one Falco pod per node; default 100).")
    egress_except: list[CidrExcept] = Field(default_factory=lambda: list(DEFAULT_EGRESS_EXCEPT),
                                     description="Ranges excluded from the SIEM egress (default private, CGNAT, "
                                                 "link-local).")
    extra_values: dict[str, Any] = Field(default_factory=dict, description="Extra chart values merged last.")

    @field_validator("driver")
    @classmethod
    def _driver(cls, v: str) -> str:
        if v in LEGACY_DRIVERS:
            raise ValueError(f"driver {v!r} is a legacy Falco driver (kernel module or classic eBPF probe: "
                             "compiled per kernel by a privileged loader); use driver: modern_ebpf")
        if v not in SUPPORTED_DRIVERS:
            raise ValueError(f"driver {v!r} is not supported; use driver: modern_ebpf")
        return v

    @field_validator("minimum_priority")
    @classmethod
    def _min(cls, v: str) -> str:
        if v.upper() not in PRIORITIES:
            raise ValueError(f"{v!r} is not a Falco priority; use one of {', '.join(p.lower() for p in PRIORITIES)}")
        return v.lower()

    @model_validator(mode="after")
    def _unique(self) -> "RuntimeDetectionConfig":
        from .base import _located

        names = [r.name for r in self.extra_rules]
        for i, n in enumerate(names):
            if names.index(n) != i:
                raise _located(f"extraRules[{i}].name", f"rule {n!r} is declared twice; rule names must be unique")
        return self


class RuntimeDetectionArgs(StrictModel):
    config: RuntimeDetectionConfig = Field(default_factory=RuntimeDetectionConfig)
    tenant_images: list[str] = Field(default_factory=list,
                                     description="workloads[*].image: the shell rule watches these repositories.")
    splunk_token: Optional[Any] = Field(None, description="splunkHecToken as a Pulumi secret Output "
                                                          "(required when siem.splunk is set without tokenVaultKey).")
    secret_store: str = Field("vault-backend", description="ClusterSecretStore for siem.splunk.tokenVaultKey.")
    refresh_interval: str = Field("1h", description="External Secrets refresh interval for the token.")
    tls_rotation: Optional[Any] = Field(
        None, description="The internal CA's certificate lifetime (secrets.rotation.tls): with it, Falco posts to "
                          "falcosidekick over mutual TLS with certificates of the internal CA (HardenedStack sets it "
                          "when the CA exists); default none: plain HTTP inside the namespace.")
    archive_role_arn: Optional[str] = Field(
        None, description="IRSA role falcosidekick's ServiceAccount assumes to archive events (audit trails).")
    archive_env: list[dict] = Field(default_factory=list,
                                    description="falcosidekick's S3 output settings as environment variables.")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of this component's namespace(s) (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")
    egress_gateway: bool = Field(
        False, description="falcosidekick reaches the Splunk HEC host through the mesh's egress gateway (HardenedStack "
                           "sets it with the mesh, components.egress): its pod gets a sidecar and its NetworkPolicy "
                           "names no internet address. Default false: the direct rule to the SIEM's addresses.")
    aws_endpoint_cidrs: list[Cidr] = Field(
        default_factory=list, description="awsEndpointCidrs: with egress_gateway, falcosidekick's sidecar leaves "
                                          "these alone (S3 and STS through the VPC endpoints, reached directly).")

    @model_validator(mode="after")
    def _token(self) -> "RuntimeDetectionArgs":
        splunk = self.config.siem.splunk
        if splunk is not None and splunk.token_vault_key is None and self.splunk_token is None:
            raise ValueError("runtimeDetection.siem.splunk needs the HEC token: `pulumi config set --secret "
                             "hardened-stack:splunkHecToken <token>`")
        return self


# ---------------------------------------------------------------------------------------------
# Pure functions: rules, chart values, network policies (unit-tested)
# ---------------------------------------------------------------------------------------------

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=True, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["q"] = lambda s: json.dumps(str(s))  # a JSON string is a valid YAML double-quoted scalar


def image_repository(image: str) -> str:
    """``ghcr.io/org/app:tag@sha256:...`` -> ``ghcr.io/org/app`` (Falco's container.image.repository)."""
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)
    if ":" in last[-1]:
        repo = repo.rsplit(":", 1)[0]
    return repo


class RulesError(ValueError):
    """The rendered rules file is not one Falco would load."""


#: Macros of Falco's default ruleset (falco_rules.yaml, stable rules) that stack rules may use
#: without defining them. A bare name in a condition that is neither defined in the file nor here
#: is a typo Falco refuses at start-up, on every node at once.
FALCO_DEFAULT_MACROS = frozenset({
    "always_true", "never_true", "container", "container_started", "interactive", "spawned_process",
    "open_write", "open_read", "open_directory", "open_file_failed", "outbound", "inbound", "inbound_outbound",
    "modify", "rename", "remove", "mkdir", "chmod", "create_symlink", "create_hardlink", "proc_name_exists",
    "bin_dir", "bin_dir_mkdir", "bin_dir_rename", "etc_dir", "root_dir", "sensitive_files", "shell_procs",
    "user_known_shell_spawn_activities", "k8s_containers", "network_tool_procs", "package_mgmt_procs",
    "kevent", "kcreate", "kmodify", "kdelete",
})
_KEYWORDS = frozenset({"and", "or", "not", "in", "intersects", "pmatch", "exists", "contains", "icontains",
                       "bcontains", "startswith", "bstartswith", "endswith", "glob", "iglob", "regex", "val"})
_COMPARISONS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith",
                          "bstartswith", "endswith", "glob", "iglob", "regex"})
_LIST_OPERATORS = frozenset({"in", "intersects", "pmatch"})
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_][A-Za-z0-9_.\[\]/:*%+-]*|[()]|,|[=<>!]+')


def condition_macros(condition: str) -> set[str]:
    """The macro names a condition uses: bare identifiers that are not fields (``a.b``), operators,
    values compared against, or items of an ``in (...)`` list."""
    tokens = _TOKEN.findall(condition)
    used: set[str] = set()
    i = 0
    while i < len(tokens):
        t = tokens[i]
        low = t.lower()
        if low in _LIST_OPERATORS and i + 1 < len(tokens) and tokens[i + 1] == "(":
            depth, i = 1, i + 2
            while i < len(tokens) and depth:
                depth += {"(": 1, ")": -1}.get(tokens[i], 0)
                i += 1
            continue
        if low in _COMPARISONS:
            i += 2  # the operator and the value it compares against
            continue
        if (t[0] not in "\"'()," and not t[0].isdigit() and "." not in t and low not in _KEYWORDS
                and not re.match(r"^[=<>!]+$", t)):
            used.add(t)
        i += 1
    return used


def validate_rules(text: str) -> list[dict]:
    """Parse *text* as a Falco rules file and check what Falco would reject at start-up."""
    try:
        items = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RulesError(f"the rules file is not valid YAML: {e}") from None
    if not isinstance(items, list):
        raise RulesError("a Falco rules file is a YAML list of rule/list/macro items")
    names: set[str] = set()
    macros = {item["macro"] for item in items if isinstance(item, dict) and "macro" in item}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not ({"rule", "list", "macro"} & set(item)):
            raise RulesError(f"item {i} is not a rule, list or macro")
        if "rule" in item:
            missing = [k for k in ("desc", "condition", "output", "priority") if not item.get(k)]
            if missing:
                raise RulesError(f"rule {item['rule']!r} lacks {', '.join(missing)}")
            if item["priority"] not in PRIORITIES:
                raise RulesError(f"rule {item['rule']!r}: priority {item['priority']!r} is not one of "
                                 f"{', '.join(PRIORITIES)}")
            if not str(item["condition"]).strip() or not balanced(str(item["condition"])):
                raise RulesError(f"rule {item['rule']!r}: condition is empty or its parentheses do not balance")
            unknown = sorted(condition_macros(str(item["condition"])) - macros - FALCO_DEFAULT_MACROS)
            if unknown:
                raise RulesError(f"rule {item['rule']!r}: condition uses {', '.join(unknown)}, which is neither a "
                                 "macro of this file nor of Falco's default rules (a typo? Falco would refuse to "
                                 "start on every node)")
            if item["rule"] in names:
                raise RulesError(f"rule {item['rule']!r} is defined twice")
            names.add(item["rule"])
        if "list" in item and not isinstance(item.get("items"), list):
            raise RulesError(f"list {item['list']!r} needs items")
    return items


def rules_yaml(args: RuntimeDetectionArgs) -> str:
    """The stack's Falco rules (validated)."""
    extra = [r.model_copy(update={"tags": sorted(set(r.tags) | {"hardened-stack"})}) for r in args.config.extra_rules]
    text = _ENV.get_template("falco_rules.yaml.j2").render(
        shells=SHELLS, miners=MINERS,
        tenant_images=sorted({image_repository(i) for i in args.tenant_images}),
        extra_rules=extra)
    validate_rules(text)
    return text


#: What the modern eBPF probe needs instead of a privileged container (the chart's
#: falco.securityContext helper with driver.modernEbpf.leastPrivileged; falco.org, "Least
#: privileged mode"): load and attach BPF programs, raise the memlock limit for its ring buffers,
#: read perf events, and read other processes' /proc entries.
FALCO_CAPABILITIES = ("BPF", "PERFMON", "SYS_PTRACE", "SYS_RESOURCE")


def container_engines(c: "RuntimeDetectionConfig") -> dict:
    """The container plugin's engines: containerd on its one socket, every other engine off (the
    chart mounts a hostPath per socket of an enabled engine)."""
    off = {"enabled": False}
    return {"containerd": {"sockets": [c.containerd_socket]},  # enabled: the chart's default
            "docker": {**off, "sockets": []}, "podman": {**off, "sockets": []}, "cri": {**off, "sockets": []},
            "lxc": off, "libvirt_lxc": off, "bpm": off}


#: Falco -> falcosidekick over mutual TLS, certificates from the internal CA (cert-manager).
FALCO_CLIENT_TLS = "falco-client-tls"
SIDEKICK_TLS = "falcosidekick-tls"
FALCO_CLIENT_DIR = "/etc/falco/certs/client"
SIDEKICK_TLS_DIR = "/etc/certs/server"
#: falcosidekick's plain-HTTP port for the paths in TLSServer.NoTLSPaths (its default 2810): the
#: kubelet's probes of /ping, nothing else.
SIDEKICK_PROBE_PORT = 2810


def falco_http_output(tls: bool) -> dict:
    """Falco's ``http_output`` (falco.yaml keys): to falcosidekick's Service, over mutual TLS when
    the internal CA exists: ``mtls`` with the client certificate and key, the server verified
    against the CA (``ca_cert``), never ``insecure``."""
    if not tls:
        return {"enabled": True, "url": f"http://{SIDEKICK}.{NAMESPACE}.svc:{SIDEKICK_PORT}"}
    # client_cert and client_key keep the chart's defaults, <FALCO_CLIENT_DIR>/client.{crt,key}, and
    # insecure its false: the volume below puts the certificate there
    return {"enabled": True, "url": f"https://{SIDEKICK}.{NAMESPACE}.svc:{SIDEKICK_PORT}", "mtls": True,
            "ca_cert": f"{FALCO_CLIENT_DIR}/ca.crt", "ca_path": f"{FALCO_CLIENT_DIR}/"}


def alert_certificates(rotation: Any) -> list[tuple[str, dict]]:
    """falcosidekick's server certificate (its Service names) and Falco's client certificate, both
    from the internal CA, each with its own usage."""
    from .secrets import tls_certificate

    svc = f"{SIDEKICK}.{NAMESPACE}.svc"
    return [("sidekick-tls", tls_certificate(SIDEKICK_TLS, NAMESPACE, [svc, f"{svc}.cluster.local"], rotation,
                                             usages=["server auth", "digital signature"])),
            ("falco-client-tls", tls_certificate(FALCO_CLIENT_TLS, NAMESPACE, [f"falco.{NAMESPACE}.svc"], rotation,
                                                 usages=["client auth", "digital signature"]))]


def sidekick_tls_env() -> list[dict]:
    """falcosidekick's TLS server (config.go keys TLSServer.*; main.go serves mutual TLS with
    tls.RequireAndVerifyClientCert against TLSServer.CaCertFile, and the NoTLSPaths on NoTLSPort)."""
    return [{"name": "TLSSERVER_DEPLOY", "value": "true"},
            {"name": "TLSSERVER_CERTFILE", "value": f"{SIDEKICK_TLS_DIR}/tls.crt"},
            {"name": "TLSSERVER_KEYFILE", "value": f"{SIDEKICK_TLS_DIR}/tls.key"},
            {"name": "TLSSERVER_MUTUALTLS", "value": "true"},
            {"name": "TLSSERVER_CACERTFILE", "value": f"{SIDEKICK_TLS_DIR}/ca.crt"},
            {"name": "TLSSERVER_NOTLSPORT", "value": str(SIDEKICK_PROBE_PORT)},
            {"name": "TLSSERVER_NOTLSPATHS", "value": "/ping"}]


def _image(tag: str, digest: Optional[str]) -> str:
    return tag + (f"@{digest}" if digest else "")


def _values(args: RuntimeDetectionArgs) -> dict:
    """Hardened falcosecurity/falco chart values: Falco only (falcosidekick is deployed by the
    component, :func:`sidekick_manifests`)."""
    c = args.config
    values = {
        "fullnameOverride": FULLNAME,
        "image": {"registry": "docker.io", "repository": "falcosecurity/falco",
                  "tag": _image(c.image_tag, c.image_digest), "pullPolicy": "IfNotPresent"},
        "driver": {"enabled": True, "kind": c.driver, "loader": {"enabled": False},
                   "modernEbpf": {"leastPrivileged": True}},
        "tty": True,
        # EKS nodes run containerd only: the container plugin reads it on its one socket, and the
        # chart mounts no docker, podman, CRI-O or k3s socket (_helpers.tpl mounts the sockets of
        # the enabled engines only).
        "collectors": {"enabled": True, "kubernetes": {"enabled": False},
                       "containerEngine": {"engines": container_engines(c)}},
        "falcoctl": {"artifact": {"install": {"enabled": False}, "follow": {"enabled": False}}},
        "customRules": {"hardened-stack-rules.yaml": rules_yaml(args)},
        "falco": {
            "json_output": True,
            "json_include_output_property": True,
            "json_include_tags_property": True,
            "priority": c.minimum_priority,
            "http_output": falco_http_output(args.tls_rotation is not None),
            "stdout_output": {"enabled": True},
            "syslog_output": {"enabled": False},
            "webserver": {"enabled": True},
        },
        # The Falco image ships /etc/falco/config.d/falco.container_plugin.yaml, which loads the
        # container plugin the chart's falco.yaml loads too: with the driver loader and falcoctl
        # off nothing hides that directory and Falco aborts ("found another plugin with name
        # container", falcosecurity/charts#1057; chart 9.1.0 + Falco 0.44.1). An empty directory
        # over it is the upstream fix (falcosecurity/falco#3984, chart 9.2.0).
        "mounts": {"volumes": [{"name": CONFIG_D_VOLUME, "emptyDir": {}}] + (
                       [{"name": FALCO_CLIENT_TLS, "secret": {"secretName": FALCO_CLIENT_TLS, "items": [
                           {"key": "tls.crt", "path": "client.crt"}, {"key": "tls.key", "path": "client.key"},
                           {"key": "ca.crt", "path": "ca.crt"}]}}] if args.tls_rotation is not None else []),
                   "volumeMounts": [{"name": CONFIG_D_VOLUME, "mountPath": "/etc/falco/config.d", "readOnly": True}]
                   + ([{"name": FALCO_CLIENT_TLS, "mountPath": FALCO_CLIENT_DIR, "readOnly": True}]
                      if args.tls_rotation is not None else [])},
        # Modern eBPF's least-privileged mode (chart: driver.modernEbpf.leastPrivileged; the
        # chart's falco.securityContext helper then asks for BPF, SYS_RESOURCE, PERFMON and
        # SYS_PTRACE instead of privileged, and pod-template.tpl marks the container's AppArmor
        # profile unconfined). containerSecurityContext replaces that helper's output whole
        # (pod-template.tpl: a non-empty containerSecurityContext wins), so it names the same four
        # capabilities itself, on top of drop ALL: root in the container, no other capability, no
        # privilege escalation, a read-only image.
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {
            "privileged": False, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": list(FALCO_CAPABILITIES)}},
        "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        # Every node, whatever its taints: a node Falco does not run on is a node nobody watches.
        "tolerations": [{"operator": "Exists"}],
        # Falco calls no Kubernetes API here (the container plugin reads pod metadata from the
        # container runtime; the k8s-metacollector is off). The chart has no automount setting, so
        # the component writes the ServiceAccount, without a token (falco_service_account).
        "serviceAccount": {"create": False, "name": FULLNAME},
        # falcosidekick's subchart (0.12.x) always writes a Secret with every output's settings as
        # literal data, whatever config.existingSecret says; the component deploys falcosidekick
        # itself instead (sidekick_manifests), its token from the External Secrets-synced Secret.
        "falcosidekick": {"enabled": False},
    }
    return deep_merge(values, c.extra_values)


SIDEKICK_REPLICAS = 2
SIDEKICK_UID = 10001
SIDEKICK_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}


def falco_service_account() -> dict:
    """Falco's ServiceAccount, without an API token (Falco calls no Kubernetes API here)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
            "metadata": {"name": FULLNAME, "namespace": NAMESPACE, "labels": standard_labels(FULLNAME, "detection")}}


def sidekick_env(c: RuntimeDetectionConfig, extra: Optional[list[dict]] = None) -> list[dict]:
    """falcosidekick's settings as environment variables (its configuration keys, upper case, '.'
    as '_'): plain text for what is not secret; the HEC token from the Secret ``falcosidekick-siem``
    (synced from Vault by External Secrets, or the Pulumi secret), never a literal."""
    env: list[dict] = [{"name": "LISTENPORT", "value": str(SIDEKICK_PORT)}]
    splunk, syslog = c.siem.splunk, c.siem.syslog
    if splunk:
        env += [{"name": "SPLUNK_HOST", "value": splunk.endpoint},
                {"name": "SPLUNK_TOKEN", "valueFrom": {"secretKeyRef": {"name": SIEM_SECRET, "key": "SPLUNK_TOKEN"}}},
                {"name": "SPLUNK_CHECKCERT", "value": "true" if splunk.check_cert else "false"},
                {"name": "SPLUNK_MINIMUMPRIORITY", "value": splunk.minimum_priority}]
    if syslog:
        env += [{"name": "SYSLOG_HOST", "value": syslog.host}, {"name": "SYSLOG_PORT", "value": str(syslog.port)},
                {"name": "SYSLOG_PROTOCOL", "value": syslog.protocol}, {"name": "SYSLOG_FORMAT", "value": syslog.format},
                {"name": "SYSLOG_MINIMUMPRIORITY", "value": syslog.minimum_priority}]
    return env + list(extra or [])


def sidekick_mesh_metadata(c: RuntimeDetectionConfig, aws_endpoint_cidrs: list[str]) -> tuple[dict, dict]:
    """Labels and annotations of falcosidekick's pods when it leaves through the egress gateway: a
    sidecar (per-pod injection, ``sidecar.istio.io/inject``), with Falco's port outside it (Falco is
    not in the mesh and already uses mutual TLS at the application level), the VPC endpoints' ranges
    outside it (S3 and STS, reached directly: cni/pkg/plugin/sidecar_redirect.go ``excludeIPCidrsKey``)
    and syslog's port outside it (plain TCP or UDP has no SNI to route by: the direct rule stays)."""
    from .egress import EXCLUDE_INBOUND_ANNOTATION, EXCLUDE_OUTBOUND_RANGES_ANNOTATION, INJECT_LABEL

    annotations = {EXCLUDE_INBOUND_ANNOTATION: str(SIDEKICK_PORT)}
    if aws_endpoint_cidrs:
        annotations[EXCLUDE_OUTBOUND_RANGES_ANNOTATION] = ",".join(sorted(aws_endpoint_cidrs))
    if c.siem.syslog:
        annotations["traffic.sidecar.istio.io/excludeOutboundPorts"] = str(c.siem.syslog.port)
    return {INJECT_LABEL: "true"}, annotations


def sidekick_manifests(c: RuntimeDetectionConfig, archive_env: Optional[list[dict]] = None,
                       archive_role_arn: Optional[str] = None, tls: bool = False,
                       mesh: Optional[tuple[dict, dict]] = None) -> list[tuple[str, dict]]:
    """falcosidekick as the stack deploys it: its own ServiceAccount without a token (it calls no
    Kubernetes API; with the S3 archive it is annotated with its IRSA role, whose web-identity
    token EKS projects into the pod by itself), a restricted Deployment (UID above 10000, read-only
    root, drop ALL, seccomp, limits, probes), a PodDisruptionBudget, and the Service Falco posts to.
    With *mesh* (:func:`sidekick_mesh_metadata`) its pods carry a sidecar to the egress gateway."""
    labels = standard_labels(SIDEKICK, "alert-forwarder")
    pod_labels, pod_annotations = ({**labels, **mesh[0]}, mesh[1]) if mesh else (labels, {})
    selector = {"app.kubernetes.io/name": SIDEKICK, "app.kubernetes.io/component": "alert-forwarder"}
    meta = {"name": SIDEKICK, "namespace": NAMESPACE, "labels": labels}
    probe = {"httpGet": {"path": "/ping", "port": "probe" if tls else "http"}, "initialDelaySeconds": 10,
             "periodSeconds": 5}
    # images.lock (python -m hardened images pin) supplies the digest the config does not set
    sidekick_digest = c.sidekick_image_digest or locked_digest(
        f"docker.io/falcosecurity/falcosidekick:{c.sidekick_image_tag}")
    container = {
        "name": SIDEKICK,
        "image": f"docker.io/falcosecurity/falcosidekick:{_image(c.sidekick_image_tag, sidekick_digest)}",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": SIDEKICK_PORT, "protocol": "TCP"}] + (
            [{"name": "probe", "containerPort": SIDEKICK_PROBE_PORT, "protocol": "TCP"}] if tls else []),
        "env": sidekick_env(c, archive_env) + (sidekick_tls_env() if tls else []),
        **({"volumeMounts": [{"name": "tls", "mountPath": SIDEKICK_TLS_DIR, "readOnly": True}]} if tls else {}),
        "livenessProbe": probe, "readinessProbe": probe,
        "resources": SIDEKICK_RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": SIDEKICK_UID,
                            "runAsGroup": SIDEKICK_UID, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {"replicas": SIDEKICK_REPLICAS, "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": pod_labels,
                                           **({"annotations": pod_annotations} if pod_annotations else {})}, "spec": {
                     "serviceAccountName": SIDEKICK, "automountServiceAccountToken": False,
                     "enableServiceLinks": False,
                     "securityContext": {"runAsNonRoot": True, "runAsUser": SIDEKICK_UID, "runAsGroup": SIDEKICK_UID,
                                         "fsGroup": SIDEKICK_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [container],
                     **({"volumes": [{"name": "tls", "secret": {"secretName": SIDEKICK_TLS}}]} if tls else {})}}},
    }
    sa_meta = {**meta, "annotations": {"eks.amazonaws.com/role-arn": archive_role_arn}} if archive_role_arn else meta
    return [
        ("sidekick-sa", {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
                         "metadata": sa_meta}),
        ("sidekick", deployment),
        ("sidekick-pdb", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
                          "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}}}),
        ("sidekick-svc", {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
            "type": "ClusterIP", "selector": selector,
            "ports": [{"name": "http", "port": SIDEKICK_PORT, "targetPort": "http", "protocol": "TCP"}]}}),
    ]


def siem_external_secret(vault_key: str, store: str, refresh_interval: str) -> dict:
    """falcosidekick's Secret synced from Vault by External Secrets: no token in Pulumi at all."""
    path, prop = vault_key.split("#", 1)
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": SIEM_SECRET, "namespace": NAMESPACE, "labels": standard_labels(SIEM_SECRET, "siem")},
            "spec": {"refreshInterval": refresh_interval,
                     "secretStoreRef": {"kind": "ClusterSecretStore", "name": store},
                     "target": {"name": SIEM_SECRET, "creationPolicy": "Owner", "deletionPolicy": "Delete"},
                     "data": [{"secretKey": "SPLUNK_TOKEN", "remoteRef": {"key": path, "property": prop}}]}}


def siem_secret(token: Any) -> dict:
    """falcosidekick's environment from a Secret (``SPLUNK_TOKEN``): the token stays a Pulumi secret."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": SIEM_SECRET, "namespace": NAMESPACE, "labels": standard_labels(SIEM_SECRET, "siem")},
            "stringData": {"SPLUNK_TOKEN": pulumi.Output.secret(token) if isinstance(token, pulumi.Output) else token}}


def _netpol(name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": standard_labels(name, "network-policy")},
            "spec": spec}


def siem_ports(c: RuntimeDetectionConfig) -> list[dict]:
    ports = []
    if c.siem.splunk:
        ports.append({"protocol": "TCP", "port": c.siem.splunk.port})
    if c.siem.syslog:
        ports.append({"protocol": c.siem.syslog.protocol.upper(), "port": c.siem.syslog.port})
    return sorted({json.dumps(p, sort_keys=True): p for p in ports}.values(), key=lambda p: (p["port"], p["protocol"]))


def network_policies(c: RuntimeDetectionConfig, egress_gateway: bool = False) -> list[tuple[str, dict]]:
    """Falco -> falcosidekick, and falcosidekick -> the SIEM. With *egress_gateway* Splunk HEC goes
    through the egress gateway (components.egress writes that rule), so the direct rule keeps
    syslog's port only (plain TCP or UDP, no SNI to route by), or goes."""
    falco = {"matchLabels": {"app.kubernetes.io/name": FULLNAME}}
    sidekick = {"matchLabels": {"app.kubernetes.io/name": SIDEKICK}}
    port = [{"protocol": "TCP", "port": SIDEKICK_PORT}]
    out = [
        ("falco-out", _netpol("allow-egress-falco-to-sidekick", {
            "podSelector": falco, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": sidekick}], "ports": port}]})),
        ("sidekick-in", _netpol("allow-ingress-sidekick-from-falco", {
            "podSelector": sidekick, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": falco}], "ports": port}]})),
    ]
    ports = siem_ports(c)
    if egress_gateway and c.siem.splunk:
        ports = [p for p in ports if c.siem.syslog and p["port"] == c.siem.syslog.port
                 and p["protocol"] == c.siem.syslog.protocol.upper()]
    if ports:
        if c.siem.cidrs:
            peers = [{"ipBlock": {"cidr": cidr}} for cidr in sorted(c.siem.cidrs)]
        else:
            # NetworkPolicy cannot name siem/splunk hosts: the internet minus the cluster's ranges.
            peers = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": sorted(c.egress_except)}}]
        out.append(("siem", _netpol("allow-egress-sidekick-siem", {
            "podSelector": sidekick, "policyTypes": ["Egress"], "egress": [{"to": peers, "ports": ports}]})))
    return out


def namespace_pod_security() -> str:
    from .admission import _exemptions_module

    return _exemptions_module().namespace_pod_security(NAMESPACE)


def namespace_quota(c: RuntimeDetectionConfig):
    from .base import QuotaConfig

    pods = c.max_nodes + 4  # one Falco per node, two falcosidekick replicas and a rolling surge
    return QuotaConfig(cpu=str(c.max_nodes + 2), memory=f"{c.max_nodes + 1}Gi", pods=pods)


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

class RuntimeDetection(HardenedComponent):
    """Falco (modern eBPF) with the stack's rules; falcosidekick to the SIEM."""

    def __init__(self, name: str, args: RuntimeDetectionArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        c = args.config
        if not (c.image_digest and c.sidekick_image_digest) and not load_image_lock():
            pulumi.log.warn("runtimeDetection: Falco/falcosidekick images are pinned by tag only; set imageDigest "
                            "and sidekickImageDigest to pin them by digest, or run `python -m hardened images pin` "
                            "(images.lock)", self)
        if not (c.siem.splunk or c.siem.syslog):
            pulumi.log.warn("runtimeDetection.siem has no output: alerts stay in the Falco pods' logs", self)
        self.namespace = HardenedNamespace(f"{name}-ns", HardenedNamespaceArgs(
            name=NAMESPACE, pod_security=namespace_pod_security(), quota=namespace_quota(c),
            labels=args.namespace_labels), child_opts(self))
        in_ns = child_opts(self, depends_on=[self.namespace])
        deps: list[pulumi.Resource] = [self.namespace]
        deps += [k8s_object(f"{name}-{suffix}", m, in_ns) for suffix, m in network_policies(c, args.egress_gateway)]
        if c.siem.splunk and c.siem.splunk.token_vault_key:
            deps.append(k8s_object(f"{name}-siem-external-secret", siem_external_secret(
                c.siem.splunk.token_vault_key, args.secret_store, args.refresh_interval), in_ns))
        elif c.siem.splunk:
            deps.append(k8s_object(f"{name}-siem-secret", siem_secret(args.splunk_token), in_ns))
        deps.append(k8s_object(f"{name}-falco-sa", falco_service_account(), in_ns))
        if args.tls_rotation is not None:
            deps += [k8s_object(f"{name}-{suffix}", m, in_ns) for suffix, m in alert_certificates(args.tls_rotation)]
        self.sidekick = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=deps))
                         for suffix, m in sidekick_manifests(
                             c, args.archive_env, args.archive_role_arn, tls=args.tls_rotation is not None,
                             mesh=sidekick_mesh_metadata(c, args.aws_endpoint_cidrs) if args.egress_gateway else None)]
        self.chart = helm_chart(f"{name}-chart", chart=FALCO_CHART, version=c.chart_version, repo=FALCO_REPO,
                                namespace=NAMESPACE, values=_values(args), opts=child_opts(self, depends_on=deps))
        self.register_outputs({"namespace": NAMESPACE, "driver": c.driver,
                               "siem": sorted(k for k in ("splunk", "syslog") if getattr(c.siem, k))})
