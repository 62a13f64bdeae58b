// Validates every document of cluster-config/kubernetes/*.yaml against the Kubernetes API schemas (kubernetes-models):
// one check per document, plus one that an invalid manifest is rejected (a validator that cannot fail proves nothing).
// Ends with a dotnet-test-style summary line ("Passed!  - Failed: 0, Passed: N ...") that scripts/test.sh counts.
import { readdirSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = process.argv[2] ?? join(root, "cluster-config", "kubernetes");

// apps/v1 StatefulSet -> kubernetes-models/apps/v1/StatefulSet.js; v1 Service -> kubernetes-models/v1/Service.js
async function modelOf(apiVersion, kind) {
  const path = apiVersion.includes("/") ? apiVersion : `v1`;
  if (!apiVersion.includes("/") && apiVersion !== "v1") throw new Error(`unknown core apiVersion '${apiVersion}'`);
  const module = await import(`kubernetes-models/${path}`).catch(e => {
    throw new Error(`no schemas for ${apiVersion}: ${e.message}`);
  });
  if (!module[kind]) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return module[kind];
}

async function validate(obj) {
  if (!obj || typeof obj !== "object") throw new Error("not an object");
  if (!obj.apiVersion || !obj.kind) throw new Error("apiVersion or kind missing");
  if (!obj.metadata?.name) throw new Error("metadata.name missing");
  const Model = await modelOf(obj.apiVersion, obj.kind);
  new Model(obj).validate(); // throws with the schema's errors
}

let passed = 0, failed = 0;
const check = async (name, body) => {
  try { await body(); passed++; console.log(`  ok    ${name}`); }
  catch (e) { failed++; console.log(`  FAIL  ${name}: ${e.message ?? e}`); }
};

const files = readdirSync(dir).filter(f => f.endsWith(".yaml") || f.endsWith(".yml")).sort();
if (files.length === 0) { failed++; console.log(`  FAIL  no manifests in ${dir}`); }
for (const file of files) {
  const docs = parseAllDocuments(readFileSync(join(dir, file), "utf8"));
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) { failed++; console.log(`  FAIL  ${file}#${i}: YAML: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (obj === null) continue; // an empty document (a trailing ---)
    await check(`${file}#${i} ${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"}`, () => validate(obj));
  }
}

await check("an invalid manifest (a StatefulSet without selector, a port as text) is rejected", async () => {
  const broken = { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "broken" },
    spec: { serviceName: "x", template: { spec: { containers: [{ name: "c", ports: [{ containerPort: "http" }] }] } } } };
  await modelOf(broken.apiVersion, broken.kind); // the schema itself must load: only the manifest may be at fault
  try { await validate(broken); } catch { return; }
  throw new Error("the validator accepted it");
});

console.log(`${failed === 0 ? "Passed!" : "Failed!"}  - Failed: ${failed}, Passed: ${passed}, Skipped: 0, Total: ${passed + failed} - kubernetes manifests (${dir})`);
process.exitCode = failed === 0 ? 0 : 1;
