// tests/deploy/validate_k8s.mjs - offline checks of deploy/k8s/*.yml.
//
//   node validate_k8s.mjs --modules DIR [--uid N] [--config-out FILE] [--agent-env-out FILE]
//                         FILE.yml...
//
// DIR is a node_modules holding the npm packages `kubernetes-models` and `yaml`
// (test_k8s.sh installs them). For every YAML document:
//   1. the kubernetes-models class of its apiVersion/kind validates it against the
//      Kubernetes OpenAPI schema (types, required fields, formats);
//   2. the same validator runs over a Proxy of the document that records which fields it
//      looked at: a field of an object the schema does not describe is reported (what
//      `kubectl apply --validate=strict` rejects; the schema alone does not forbid
//      unknown fields);
// then our own checks across documents: names, labels and selectors, Services against
// container ports, probes, volumes, RBAC, and the mesh config in the ConfigMap against the
// DaemonSet's pod (router ports vs container ports and hostPort, admin ports vs probes,
// meshd.runDir / agentSocket vs the shared emptyDir, the kubectl proxy port vs the namer,
// the daemonset transformer vs the Service, Zipkin addresses vs zipkin.yml).
//
// --config-out writes the ConfigMap's config.yaml (for `meshd --check`);
// --agent-env-out writes the meshagent container's literal env as NAME=VALUE lines.
// Prints one line per problem and exits 1 if there is any.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join, posix } from "node:path";

const args = process.argv.slice(2);
const opt = { files: [] };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--modules") opt.modules = args[++i];
  else if (a === "--uid") opt.uid = Number(args[++i]);
  else if (a === "--config-out") opt.configOut = args[++i];
  else if (a === "--agent-env-out") opt.agentEnvOut = args[++i];
  else opt.files.push(a);
}
if (!opt.modules || opt.files.length === 0) {
  console.error("usage: validate_k8s.mjs --modules DIR [--uid N] [--config-out F] [--agent-env-out F] FILE...");
  process.exit(2);
}
const require = createRequire(join(opt.modules, "noop.js"));
const YAML = require("yaml");

let problems = 0;
const said = new Set();
function problem(where, msg) {
  const line = `FAIL: ${where}: ${msg}`;
  if (said.has(line)) return; // the same finding from another router or container
  said.add(line);
  problems++;
  console.log(line);
}
function note(msg) {
  console.log(`ok: ${msg}`);
}

// ---- 1 + 2: schema validation -------------------------------------------------------------

function modelClass(apiVersion, kind) {
  // "v1" -> kubernetes-models/v1, "apps/v1" -> kubernetes-models/apps/v1
  let mod;
  try {
    mod = require(`kubernetes-models/${apiVersion}`);
  } catch {
    return null;
  }
  return typeof mod[kind] === "function" ? mod[kind] : null;
}

// Wraps <value> so that reads are recorded per object; <records> gets one entry per object.
function track(value, path, records) {
  if (value === null || typeof value !== "object") return value;
  const rec = { path, target: value, seen: new Set(), enumerated: false, isArray: Array.isArray(value) };
  records.push(rec);
  const children = new Map();
  return new Proxy(value, {
    get(t, k, r) {
      if (typeof k === "string") rec.seen.add(k);
      const v = Reflect.get(t, k, r);
      if (typeof k !== "string" || v === null || typeof v !== "object") return v;
      if (!children.has(k)) children.set(k, track(v, `${path}.${k}`, records));
      return children.get(k);
    },
    has(t, k) {
      if (typeof k === "string") rec.seen.add(k);
      return Reflect.has(t, k);
    },
    // A map (labels, data, resources.limits...) is enumerated by the validator: any key goes.
    ownKeys(t) {
      rec.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

function validateSchema(doc, where) {
  const Cls = modelClass(doc.apiVersion, doc.kind);
  if (!Cls) {
    problem(where, `no kubernetes-models class for apiVersion ${doc.apiVersion} kind ${doc.kind}`);
    return;
  }
  try {
    new Cls(doc).validate();
  } catch (e) {
    problem(where, `schema: ${e.message}`);
    return;
  }
  const records = [];
  try {
    Cls.prototype.validate.call(track(doc, "", records));
  } catch (e) {
    problem(where, `schema (tracked): ${e.message}`);
    return;
  }
  for (const r of records) {
    if (r.isArray || r.enumerated) continue;
    for (const k of Object.keys(r.target))
      if (!r.seen.has(k)) problem(where, `unknown field ${(r.path + "." + k).slice(1)}`);
  }
}

// ---- load ---------------------------------------------------------------------------------

const objects = []; // { doc, file, where }
for (const file of opt.files) {
  const text = readFileSync(file, "utf8");
  const docs = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  // kubectl reads YAML 1.1 (yes/no/on/off are booleans, 0755 is octal): a scalar that the
  // two versions read differently is an accident waiting to happen; quote it.
  const docs11 = YAML.parseAllDocuments(text, { version: "1.1" });
  let n = 0;
  docs.forEach((d, i) => {
    if (!d.errors.length && docs11[i] && !docs11[i].errors.length &&
        JSON.stringify(d.toJS()) !== JSON.stringify(docs11[i].toJS()))
      problem(basename(file), `document ${i + 1} reads differently as YAML 1.1 (as kubectl does): quote yes/no/on/off and leading-zero numbers`);
  });
  for (const d of docs) {
    const where0 = basename(file);
    if (d.errors.length) {
      for (const e of d.errors) problem(where0, `YAML: ${e.message}`);
      continue;
    }
    for (const w of d.warnings) problem(where0, `YAML: ${w.message}`);
    const doc = d.toJS();
    if (doc === null || doc === undefined) continue; // an empty document (leading ---)
    n++;
    const where = `${where0}: ${doc.kind}/${doc.metadata && doc.metadata.name}`;
    if (typeof doc !== "object" || !doc.apiVersion || !doc.kind) {
      problem(where0, "a document without apiVersion/kind");
      continue;
    }
    validateSchema(doc, where);
    objects.push({ doc, file: where0, where });
  }
  if (n === 0) problem(basename(file), "no Kubernetes object in the file");
}
const schemaProblems = problems;
if (schemaProblems === 0)
  note(`${objects.length} objects in ${opt.files.length} files valid against the Kubernetes API schema (kubernetes-models), no unknown fields`);

// ---- 3: our own checks --------------------------------------------------------------------

const byKind = (kind) => objects.filter((o) => o.doc.kind === kind);
const find = (kind, name) => objects.find((o) => o.doc.kind === kind && o.doc.metadata.name === name);
const workloads = objects.filter((o) => ["DaemonSet", "Deployment", "StatefulSet"].includes(o.doc.kind));
const podSpecOf = (o) => (o.doc.kind === "Pod" ? o.doc.spec : o.doc.spec.template.spec);
const podLabelsOf = (o) => (o.doc.kind === "Pod" ? o.doc.metadata.labels : o.doc.spec.template.metadata.labels) || {};
const pods = objects.filter((o) => o.doc.kind === "Pod").concat(workloads);
const IANA_SVC_NAME = /^(?=.*[a-z])(?!.*--)[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

// Quantities: "50m" CPU, "16Mi" memory.
function quantity(q) {
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  if (!m) return NaN;
  const mult = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

// unique kind/name
{
  const seen = new Map();
  for (const o of objects) {
    const key = `${o.doc.kind}/${o.doc.metadata.name}`;
    if (seen.has(key)) problem(o.where, `also defined in ${seen.get(key)}`);
    else seen.set(key, o.file);
  }
}

// workloads: selector matches the template
for (const o of workloads) {
  const sel = (o.doc.spec.selector && o.doc.spec.selector.matchLabels) || {};
  const labels = podLabelsOf(o);
  for (const [k, v] of Object.entries(sel))
    if (labels[k] !== v) problem(o.where, `selector ${k}=${v} does not match the pod template's labels`);
}

// pods: ports, probes, volumes, env, resources, security
function containerPort(c, port) {
  return (c.ports || []).find((p) => (typeof port === "number" ? p.containerPort === port : p.name === port));
}
for (const o of pods) {
  const spec = podSpecOf(o);
  const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
  const used = new Set();
  const portNames = new Set();
  for (const c of [...(spec.initContainers || []), ...spec.containers]) {
    const w = `${o.where}: container ${c.name}`;
    for (const p of c.ports || []) {
      if (p.name !== undefined) {
        if (!IANA_SVC_NAME.test(p.name)) problem(w, `port name "${p.name}" is not a valid IANA service name (at most 15 of a-z0-9-)`);
        if (portNames.has(p.name)) problem(w, `port name "${p.name}" used twice in the pod`);
        portNames.add(p.name);
      }
      if (p.hostPort !== undefined && p.hostPort !== p.containerPort)
        problem(w, `hostPort ${p.hostPort} differs from containerPort ${p.containerPort}`);
    }
    for (const kind of ["readinessProbe", "livenessProbe", "startupProbe"]) {
      const pr = c[kind];
      if (!pr) continue;
      const hp = pr.httpGet || pr.tcpSocket;
      if (hp && !containerPort(c, hp.port)) problem(w, `${kind} port ${hp.port} is not a port of this container`);
    }
    for (const m of c.volumeMounts || []) {
      if (!volumes.has(m.name)) problem(w, `volumeMount ${m.name}: no such volume`);
      used.add(m.name);
    }
    const envNames = [];
    for (const e of c.env || []) {
      if (envNames.includes(e.name)) problem(w, `env ${e.name} set twice`);
      // $(VAR) expands only from variables defined before it
      for (const [, ref] of String(e.value || "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
        if (!envNames.includes(ref)) problem(w, `env ${e.name} refers to $(${ref}), not defined before it`);
      envNames.push(e.name);
    }
    const res = c.resources || {};
    for (const r of ["cpu", "memory"]) {
      const req = res.requests && res.requests[r], lim = res.limits && res.limits[r];
      if (req !== undefined && isNaN(quantity(req))) problem(w, `resources.requests.${r} "${req}" is not a quantity`);
      if (lim !== undefined && isNaN(quantity(lim))) problem(w, `resources.limits.${r} "${lim}" is not a quantity`);
      if (req !== undefined && lim !== undefined && quantity(req) > quantity(lim))
        problem(w, `resources: ${r} request ${req} above its limit ${lim}`);
    }
    if (!res.limits || !res.limits.memory) problem(w, "no memory limit");
    const sc = c.securityContext || {};
    if (sc.allowPrivilegeEscalation !== false) problem(w, "securityContext.allowPrivilegeEscalation is not false");
    if (!(sc.capabilities && (sc.capabilities.drop || []).includes("ALL"))) problem(w, "securityContext does not drop ALL capabilities");
  }
  for (const name of volumes.keys()) if (!used.has(name)) problem(o.where, `volume ${name} is mounted by no container`);
  for (const v of volumes.values())
    if (v.configMap && !find("ConfigMap", v.configMap.name)) problem(o.where, `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
  if (spec.serviceAccountName && !find("ServiceAccount", spec.serviceAccountName))
    problem(o.where, `serviceAccountName ${spec.serviceAccountName}: no such ServiceAccount`);
}

// Services: selector selects a pod, every targetPort is one of its container ports
for (const o of byKind("Service")) {
  const sel = o.doc.spec.selector || {};
  const targets = pods.filter((p) => Object.entries(sel).every(([k, v]) => podLabelsOf(p)[k] === v));
  if (Object.keys(sel).length && targets.length === 0) {
    problem(o.where, `selector ${JSON.stringify(sel)} selects no pod template`);
    continue;
  }
  for (const p of o.doc.spec.ports) {
    const tp = p.targetPort === undefined ? p.port : p.targetPort;
    for (const t of targets)
      if (!podSpecOf(t).containers.some((c) => containerPort(c, tp)))
        problem(o.where, `port ${p.name}: targetPort ${tp} is not a container port of ${t.doc.kind}/${t.doc.metadata.name}`);
  }
}

// RBAC
for (const o of byKind("ClusterRoleBinding").concat(byKind("RoleBinding"))) {
  const ref = o.doc.roleRef;
  if (!find(ref.kind, ref.name)) problem(o.where, `roleRef ${ref.kind}/${ref.name} is not defined`);
  for (const s of o.doc.subjects || []) {
    if (s.kind !== "ServiceAccount") continue;
    const sa = find("ServiceAccount", s.name);
    if (!sa) problem(o.where, `subject ServiceAccount ${s.name} is not defined`);
    else if ((sa.doc.metadata.namespace || "default") !== s.namespace)
      problem(o.where, `subject ServiceAccount ${s.name} in namespace ${s.namespace}, defined in ${sa.doc.metadata.namespace || "default"}`);
  }
}

// ---- the mesh: ConfigMap config vs the DaemonSet --------------------------------------------

const ds = workloads.find((o) => podSpecOf(o).containers.some((c) => c.name === "meshd"));
if (!ds) {
  problem("manifests", "no workload with a container named meshd");
  finish();
}
const spec = podSpecOf(ds);
const meshd = spec.containers.find((c) => c.name === "meshd");
const agent = spec.containers.find((c) => c.name === "meshagent");
const kubectl = spec.containers.find((c) => c.name === "kubectl");
const W = ds.where;
if (ds.doc.kind !== "DaemonSet") problem(W, "meshd should run as a DaemonSet (one per node)");
if (!agent) problem(W, "no meshagent container beside meshd");
if (!kubectl) problem(W, "no kubectl proxy container (the io.l5d.k8s namer needs the API on localhost)");

// the config file the containers are given, and the ConfigMap behind it
function configOf(c) {
  const arg = (c.args || []).concat().pop();
  const m = (c.volumeMounts || []).find((vm) => arg && arg.startsWith(vm.mountPath.replace(/\/$/, "") + "/"));
  if (!m) {
    problem(`${W}: container ${c.name}`, `config ${arg}: not inside any volumeMount`);
    return null;
  }
  const vol = (spec.volumes || []).find((v) => v.name === m.name);
  if (!vol || !vol.configMap) {
    problem(`${W}: container ${c.name}`, `config ${arg}: volume ${m.name} is not a ConfigMap`);
    return null;
  }
  if (!m.readOnly) problem(`${W}: container ${c.name}`, `volumeMount ${m.name} should be readOnly`);
  return { arg, key: posix.relative(m.mountPath, arg), cm: vol.configMap.name };
}
const mcfg = configOf(meshd);
const acfg = agent ? configOf(agent) : null;
if (mcfg && acfg && (mcfg.cm !== acfg.cm || mcfg.key !== acfg.key))
  problem(W, `meshd reads ${mcfg.cm}:${mcfg.key}, meshagent ${acfg.cm}:${acfg.key}: both must read the same file`);
const cmObj = mcfg && find("ConfigMap", mcfg.cm);
const text = cmObj && cmObj.doc.data && cmObj.doc.data[mcfg.key];
if (typeof text !== "string") {
  problem(W, `ConfigMap ${mcfg && mcfg.cm} has no key ${mcfg && mcfg.key}`);
  finish();
}
if (opt.configOut) writeFileSync(opt.configOut, text);
let cfg;
try {
  cfg = YAML.parse(text, { uniqueKeys: true });
} catch (e) {
  problem(`ConfigMap/${mcfg.cm}`, `${mcfg.key}: ${e.message}`);
  finish();
}
const CW = `ConfigMap/${mcfg.cm} ${mcfg.key}`;

const env = (c, name) => (c.env || []).find((e) => e.name === name);
const isLoopback = (ip) => ip === undefined || ip === null || /^127\./.test(ip) || ip === "::1" || ip === "localhost";

// routers: each server port is a meshd container port named like the router
const routers = cfg.routers || [];
const routerPorts = new Set();
for (const r of routers) {
  for (const s of r.servers && r.servers.length ? r.servers : [{}]) {
    const port = s.port === undefined ? 4140 : Number(s.port);
    routerPorts.add(port);
    const cp = containerPort(meshd, port);
    if (!cp) problem(W, `router ${r.label}: server port ${port} is not a containerPort of meshd`);
    else if (cp.name !== r.label) problem(W, `router ${r.label}: container port ${port} is named "${cp.name}", not "${r.label}"`);
    if (isLoopback(s.ip)) problem(CW, `router ${r.label}: server ip ${s.ip || "127.0.0.1 (default)"} is loopback: unreachable from other pods`);
  }
}
const outgoing = routers.find((r) => r.label === "outgoing");
const incoming = routers.find((r) => r.label === "incoming");
if (!outgoing || !incoming) problem(CW, "the walkthrough's routers are labelled outgoing and incoming");
const outPort = outgoing && outgoing.servers ? Number(outgoing.servers[0].port) : 4140;
const outCp = containerPort(meshd, outPort);
if (outCp && outCp.hostPort !== outPort) problem(W, `outgoing router port ${outPort} has no hostPort ${outPort} (apps send to $(NODE_NAME):${outPort})`);
for (const p of meshd.ports || [])
  if (!routerPorts.has(p.containerPort) && p.containerPort !== Number((cfg.admin || {}).port || 9990))
    problem(W, `meshd container port ${p.name} ${p.containerPort} is neither a router's nor the admin port`);

// admin ports vs probes
function checkAdmin(c, ip, port, what) {
  if (isLoopback(ip)) problem(W, `${what} admin binds ${ip || "127.0.0.1 (default)"}: the kubelet's probes come to the pod IP`);
  const cp = containerPort(c, port);
  if (!cp) problem(W, `${what} admin port ${port} is not a containerPort of ${c.name}`);
  for (const kind of ["readinessProbe", "livenessProbe"]) {
    const pr = c[kind];
    if (!pr || !pr.httpGet) {
      problem(W, `${c.name}: no ${kind} httpGet`);
      continue;
    }
    const pp = containerPort(c, pr.httpGet.port);
    if (!pp || pp.containerPort !== port) problem(W, `${c.name}: ${kind} port ${pr.httpGet.port} is not the admin port ${port}`);
    if (pr.httpGet.path !== "/admin/ping") problem(W, `${c.name}: ${kind} path ${pr.httpGet.path}, expected /admin/ping`);
  }
}
const admin = cfg.admin || {};
checkAdmin(meshd, admin.ip, Number(admin.port === undefined ? 9990 : admin.port), "meshd");
if (agent) {
  const ip = env(agent, "MESHAGENT_ADMIN_IP"), port = env(agent, "MESHAGENT_ADMIN_PORT");
  checkAdmin(agent, ip && ip.value, Number(port ? port.value : 9991), "meshagent");
  if (opt.agentEnvOut)
    writeFileSync(opt.agentEnvOut, (agent.env || []).filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value}\n`).join(""));
}

// runDir and the agent socket: in an emptyDir both containers mount at runDir
const m = cfg.meshd || {};
if (!m.runDir) problem(CW, "meshd.runDir is not set (as non-root, meshd would use /tmp/meshd-<uid>: not shared, and the root filesystem is read-only)");
else {
  const sock = m.agentSocket || `ipc://${m.runDir}/spans.ipc`;
  const mounts = [meshd, agent].filter(Boolean).map((c) => (c.volumeMounts || []).find((vm) => vm.mountPath.replace(/\/$/, "") === m.runDir));
  if (mounts.some((x) => !x)) problem(W, `meshd.runDir ${m.runDir} is not a volumeMount of both meshd and meshagent`);
  else {
    if (mounts.some((x) => x.name !== mounts[0].name)) problem(W, `meshd and meshagent mount different volumes at ${m.runDir}`);
    const vol = (spec.volumes || []).find((v) => v.name === mounts[0].name);
    if (!vol || !vol.emptyDir) problem(W, `volume at ${m.runDir} is not an emptyDir`);
    if (mounts.some((x) => x.readOnly)) problem(W, `${m.runDir} must be writable by both containers`);
    if (!sock.startsWith("ipc://") || posix.dirname(sock.slice(6)) !== m.runDir)
      problem(CW, `meshd.agentSocket ${sock} is not an ipc:// socket directly in runDir ${m.runDir}`);
    else note(`meshd.runDir ${m.runDir} = emptyDir ${vol && vol.name} in meshd and meshagent; agentSocket ${sock}`);
  }
}

// namer and transformers vs the kubectl sidecar, the Service, the downward API
const k8sNamer = (cfg.namers || []).find((n) => n.kind === "io.l5d.k8s");
const proxyPort = (() => {
  const a = ((kubectl && kubectl.args) || []).join(" ");
  const mm = /(?:--port[= ]|-p[= ]?)(\d+)/.exec(a);
  return mm ? Number(mm[1]) : 8001;
})();
if (!k8sNamer) problem(CW, "no io.l5d.k8s namer");
else {
  if (!isLoopback(k8sNamer.host || "localhost")) problem(CW, `io.l5d.k8s host ${k8sNamer.host}: expected the kubectl proxy on localhost`);
  if (Number(k8sNamer.port || 8001) !== proxyPort) problem(CW, `io.l5d.k8s port ${k8sNamer.port || 8001}, kubectl proxies on ${proxyPort}`);
}
const xfs = (r) => ((r && r.interpreter && r.interpreter.transformers) || []);
const dsx = xfs(outgoing).find((t) => t.kind === "io.l5d.k8s.daemonset");
if (!dsx) problem(CW, "outgoing router: no io.l5d.k8s.daemonset transformer");
else {
  if (Number(dsx.k8sPort || 8001) !== proxyPort) problem(CW, `daemonset transformer k8sPort ${dsx.k8sPort || 8001}, kubectl proxies on ${proxyPort}`);
  const svc = find("Service", dsx.service);
  if (!svc) problem(CW, `daemonset transformer: service ${dsx.service} is not defined`);
  else {
    const ns = svc.doc.metadata.namespace || "default";
    if (ns !== dsx.namespace) problem(CW, `daemonset transformer: namespace ${dsx.namespace}, Service ${dsx.service} is in ${ns}`);
    const sp = svc.doc.spec.ports.find((p) => p.name === dsx.port);
    const inPort = incoming && incoming.servers ? Number(incoming.servers[0].port) : undefined;
    if (!sp) problem(CW, `daemonset transformer: Service ${dsx.service} has no port named ${dsx.port}`);
    else {
      const cp = containerPort(meshd, sp.targetPort === undefined ? sp.port : sp.targetPort);
      if (!cp || cp.containerPort !== inPort)
        problem(CW, `daemonset transformer: ${dsx.service}:${dsx.port} does not lead to the incoming router's port ${inPort}`);
      else note(`daemonset transformer: Service ${dsx.service} port ${dsx.port} -> meshd incoming router ${inPort}`);
    }
    const sel = svc.doc.spec.selector || {};
    if (!Object.entries(sel).every(([k, v]) => podLabelsOf(ds)[k] === v)) problem(CW, `daemonset transformer: Service ${dsx.service} does not select the meshd pods`);
  }
  const sa = find("ServiceAccount", spec.serviceAccountName || "default");
  const saNs = sa ? sa.doc.metadata.namespace || "default" : "default";
  if (saNs !== dsx.namespace) problem(CW, `daemonset transformer namespace ${dsx.namespace}, the ServiceAccount is in ${saNs}`);
}
if (!xfs(incoming).some((t) => t.kind === "io.l5d.k8s.localnode")) problem(CW, "incoming router: no io.l5d.k8s.localnode transformer");
for (const [name, path] of [["NODE_NAME", "spec.nodeName"], ["POD_IP", "status.podIP"]]) {
  const e = env(meshd, name);
  if (!e || !e.valueFrom || !e.valueFrom.fieldRef || e.valueFrom.fieldRef.fieldPath !== path)
    problem(W, `meshd: env ${name} should come from the downward API (fieldRef ${path})`);
}

// the RBAC the namer needs
{
  const saName = spec.serviceAccountName;
  const bindings = byKind("ClusterRoleBinding").filter((b) => (b.doc.subjects || []).some((s) => s.kind === "ServiceAccount" && s.name === saName));
  const rules = bindings.flatMap((b) => (find(b.doc.roleRef.kind, b.doc.roleRef.name) || { doc: { rules: [] } }).doc.rules || []);
  for (const res of ["endpoints", "services", "pods", "nodes"])
    for (const verb of ["get", "list", "watch"])
      if (!rules.some((r) => (r.apiGroups || []).includes("") && (r.resources || []).includes(res) && (r.verbs || []).includes(verb)))
        problem(W, `ServiceAccount ${saName} may not ${verb} ${res} (ClusterRole)`);
}

// the dtab: /srv => /#/io.l5d.k8s/<ns>/<port>, and the services it names
for (const r of routers) {
  const dentries = String(r.dtab || "").split(";").map((d) => d.trim()).filter(Boolean).map((d) => d.split("=>").map((x) => x.trim()));
  const srv = dentries.find(([p]) => p === "/srv");
  const mm = srv && /^\/#\/io\.l5d\.k8s\/([^/]+)\/([^/]+)$/.exec(srv[1]);
  if (!mm) {
    problem(CW, `router ${r.label}: no "/srv => /#/io.l5d.k8s/<namespace>/<port>" dentry`);
    continue;
  }
  const [, ns, portName] = mm;
  const named = dentries.map(([, d]) => /^\/srv\/([^/]+)$/.exec(d)).filter(Boolean).map((x) => x[1]);
  for (const s of new Set(["hello", ...named])) {
    const svc = find("Service", s);
    if (!svc) problem(CW, `router ${r.label}: the dtab reaches Service ${s}, which is not defined`);
    else if (!svc.doc.spec.ports.some((p) => p.name === portName)) problem(`Service/${s}`, `no port named "${portName}" (the dtab's /#/io.l5d.k8s/${ns}/${portName})`);
    else if ((svc.doc.metadata.namespace || "default") !== ns) problem(`Service/${s}`, `not in namespace ${ns} (the dtab)`);
  }
}

// apps: http_proxy is the node's outgoing router; hello (the walkthrough's client) has one
{
  const hello = find("Service", "hello");
  const sel = hello ? hello.doc.spec.selector || {} : null;
  const client = sel && pods.find((p) => Object.entries(sel).every(([k, v]) => podLabelsOf(p)[k] === v));
  if (client && !podSpecOf(client).containers.some((c) => env(c, "http_proxy")))
    problem(client.where, "no container sets http_proxy (the app reaches other services through meshd)");
}
for (const o of pods) {
  for (const c of podSpecOf(o).containers) {
    const hp = env(c, "http_proxy");
    if (!hp) continue;
    if (hp.value !== `$(NODE_NAME):${outPort}`) problem(`${o.where}: container ${c.name}`, `http_proxy ${hp.value}, expected $(NODE_NAME):${outPort}`);
    const nn = env(c, "NODE_NAME");
    if (!nn || !nn.valueFrom || nn.valueFrom.fieldRef.fieldPath !== "spec.nodeName") problem(`${o.where}: container ${c.name}`, "NODE_NAME should come from spec.nodeName");
  }
}

// Zipkin: the telemeter's Scribe address and the agent's HTTP URL lead to zipkin.yml
function serviceByHost(host) {
  const mm = /^([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?$/.exec(host || "");
  return mm ? { svc: find("Service", mm[1]), name: mm[1], ns: mm[2] || "default" } : { svc: null, name: host };
}
function checkZipkinAddr(host, port, what) {
  const { svc, name } = serviceByHost(host);
  if (!svc) return problem(CW, `${what}: ${host}: no Service ${name}`);
  const sp = svc.doc.spec.ports.find((p) => p.port === port);
  if (!sp) return problem(CW, `${what}: Service ${name} has no port ${port}`);
  const zipkin = pods.find((p) => Object.entries(svc.doc.spec.selector || {}).every(([k, v]) => podLabelsOf(p)[k] === v));
  const zc = zipkin && podSpecOf(zipkin).containers.find((c) => containerPort(c, sp.targetPort === undefined ? port : sp.targetPort));
  if (!zc) return problem(CW, `${what}: Service ${name} port ${port} leads to no container`);
  note(`${what} -> Service ${name}:${port} -> ${zipkin.doc.kind}/${zipkin.doc.metadata.name}`);
  return zc;
}
const zt = (cfg.telemetry || []).find((t) => t.kind === "io.l5d.zipkin");
if (!zt) problem(CW, "no io.l5d.zipkin telemeter");
else {
  const zc = checkZipkinAddr(zt.host || "localhost", Number(zt.port || 9410), "io.l5d.zipkin (Scribe)");
  if (zc) {
    const on = ["SCRIBE_ENABLED", "COLLECTOR_SCRIBE_ENABLED"].some((n) => env(zc, n) && env(zc, n).value === "true");
    if (!on) problem(`${zc.name}`, "Zipkin's Scribe collector is off: set SCRIBE_ENABLED=true");
  }
}
if (agent) {
  const u = env(agent, "MESHAGENT_ZIPKIN_URL");
  if (u && u.value) {
    const mm = /^http:\/\/([^/:]+)(?::(\d+))?(\/.*)?$/.exec(u.value);
    if (!mm) problem(W, `MESHAGENT_ZIPKIN_URL ${u.value} is not http://host[:port][/path]`);
    else checkZipkinAddr(mm[1], Number(mm[2] || 9411), "MESHAGENT_ZIPKIN_URL (HTTP)");
  }
}

// security: the mesh pod runs non-root, read-only, without capabilities
{
  const psc = spec.securityContext || {};
  for (const c of spec.containers) {
    const sc = c.securityContext || {};
    const w = `${W}: container ${c.name}`;
    if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) problem(w, "runAsNonRoot is not set");
    if (!sc.readOnlyRootFilesystem) problem(w, "readOnlyRootFilesystem is not true");
    const uid = sc.runAsUser ?? psc.runAsUser;
    if ((c.name === "meshd" || c.name === "meshagent") && opt.uid !== undefined && uid !== opt.uid)
      problem(w, `runAsUser ${uid}, the image's user (deploy/docker/Dockerfile) is ${opt.uid}`);
  }
  if (agent && meshd.image !== agent.image) problem(W, `meshd and meshagent use different images (${meshd.image}, ${agent.image})`);
}

finish();

function finish() {
  if (problems === schemaProblems && problems === 0) note("ports, names, volumes and the mesh config agree");
  process.exit(problems ? 1 : 0);
}
