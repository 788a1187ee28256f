// Drives Hearth's FHIR API with the npm FHIR client fhir-kit-client (unmodified, bearer token)
// for the end-to-end tests. Reads one JSON job from argv[2]:
//   {"base": "http://127.0.0.1:PORT/fhir", "token": "...", "bundle": "path of a Synthea transaction"}
// and prints one JSON line with what each call returned; test_fhir_clients.py judges it.
// Any failure prints {"error", "status", "data", "step"} and exits 1.

import { Client } from 'fhir-kit-client';
import fs from 'node:fs';

const job = JSON.parse(process.argv[2]);
const client = new Client({ baseUrl: job.base, bearerToken: job.token });
const out = {};
let step = 'start';
const statusOf = (e) => e?.response?.status;
const matchIds = (bundle) => (bundle.entry || []).filter((e) => e.search?.mode === 'match').map((e) => e.resource.id);

try {
  step = 'smartAuthMetadata';
  const smart = await client.smartAuthMetadata();
  out.smart = { authorizeUrl: String(smart.authorizeUrl), tokenUrl: String(smart.tokenUrl) };

  step = 'capabilityStatement';
  const cap = await client.capabilityStatement();
  out.capability = { resourceType: cap.resourceType, fhirVersion: cap.fhirVersion, types: cap.rest[0].resource.length };

  step = 'transaction';
  const bundle = JSON.parse(fs.readFileSync(job.bundle, 'utf8'));
  const tx = await client.transaction({ body: bundle });
  out.transaction = {
    type: tx.type,
    statuses: tx.entry.map((e) => e.response.status.slice(0, 3)),
    locations: tx.entry.map((e) => e.response.location),
  };
  const patientId = tx.entry.map((e) => e.response.location).find((l) => l.startsWith('Patient/')).split('/')[1];
  out.patientId = patientId;

  step = 'create';
  const created = await client.create({
    resourceType: 'Observation',
    body: {
      resourceType: 'Observation', status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: '2025-01-02T03:04:05Z',
      valueQuantity: { value: 64, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    },
  });
  out.created = created;

  step = 'read';
  out.read = await client.read({ resourceType: 'Observation', id: created.id });

  step = 'update';
  out.updated = await client.update({ resourceType: 'Observation', id: created.id, body: { ...out.read, status: 'amended' } });

  step = 'vread';
  out.vread1 = await client.vread({ resourceType: 'Observation', id: created.id, version: '1' });
  out.vread2 = await client.vread({ resourceType: 'Observation', id: created.id, version: '2' });

  step = 'search';
  let page = await client.search({ resourceType: 'Observation', searchParams: { patient: patientId, _count: 25 } });
  out.firstTotal = page.total ?? null;
  const ids = [];
  let pages = 0;
  step = 'nextPage';
  while (page) {
    pages += 1;
    ids.push(...matchIds(page));
    page = await client.nextPage({ bundle: page });
  }
  out.search = { pages, ids };

  step = 'post search';
  const posted = await client.search({
    resourceType: 'Observation',
    searchParams: { patient: patientId, code: 'http://loinc.org|8302-2', _count: 500 },
    options: { postSearch: true },
  });
  out.postSearch = matchIds(posted);

  step = 'compartment search';
  const comp = await client.search({
    resourceType: 'Condition', compartment: { resourceType: 'Patient', id: patientId }, searchParams: { _count: 500 },
  });
  out.compartment = matchIds(comp);

  step = 'history';
  const hist = await client.history({ resourceType: 'Observation', id: created.id });
  out.history = hist.entry.map((e) => [e.request.method, e.response.etag, e.resource?.status ?? null]);

  step = 'patch';
  const patched = await client.patch({
    resourceType: 'Observation', id: created.id,
    jsonPatch: [{ op: 'replace', path: '/valueQuantity/value', value: 66 }],
  });
  out.patched = patched.meta?.versionId ?? null;

  step = 'delete';
  await client.delete({ resourceType: 'Observation', id: created.id });
  try {
    await client.read({ resourceType: 'Observation', id: created.id });
    out.readAfterDelete = 200;
  } catch (e) {
    out.readAfterDelete = statusOf(e);
    out.readAfterDeleteBody = e?.response?.data;
  }

  step = 'missing';
  try {
    await client.read({ resourceType: 'Observation', id: '01a20adb-0000-7000-8000-000000000000' });
    out.missing = 200;
  } catch (e) {
    out.missing = statusOf(e);
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.log(JSON.stringify({ error: String(e), status: statusOf(e), data: e?.response?.data, step }));
  process.exit(1);
}
