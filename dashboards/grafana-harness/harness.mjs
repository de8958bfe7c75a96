// rtmon's Grafana harness: runs a generated dashboard's panels through Grafana's own
// data code — npm @grafana/data (Apache-2.0): `transformDataFrame` (every transformation),
// `applyFieldOverrides` (field config defaults and overrides, value mappings, thresholds,
// units, data links), `getFieldDisplayName`, `FieldCache`, `getFieldDisplayValuesProxy`
// (what `${__data.fields.X}` reads) — on data frames built from real Prometheus answers,
// and reports what each panel reads. Driven by dashboards/tests/grafana_transform.rs.
//
//   node harness.mjs < request.json > result.json
//
// Request: {"vars": {NAME: VALUE, …}, "panels": [{"panel": <panel JSON>,
//           "answers": {<refId>: <data of Prometheus' /api/v1/query answer>}}]}
// Result:  {"panels": [{"id", "type", "title", "frames": [...], "table"?, "nodeGraph"?}]}
//
// What is OURS, not Grafana's (Grafana's versions are AGPL-licensed and not used):
// 1. `promFrames`, the Prometheus datasource's frames. Grafana's backend (pkg/promlib)
//    returns one frame per series, the labels on the value field; for a `table` target
//    the frontend (transformDFToTable in the Prometheus datasource) turns each refId's
//    frames into ONE frame: `Time`, one string column per label (sorted by name, union
//    over the series, '' where a series lacks it), then the value column, named `Value`
//    when the panel has one query and `Value #<refId>` when it has several, refId set,
//    `meta.preferredVisualisationType = "rawPrometheus"`. A `time_series` target keeps
//    one frame per series: `Time` + `Value` with the labels, `config.displayNameFromDS`
//    = the legend with `{{label}}` filled in.
// 2. `fieldConfigRegistry`: the standard field options the panels use (Grafana registers
//    them in @grafana/ui with editors); the processors are @grafana/data's own.
// 3. `replaceVariables`: `${__data.fields.X}` through @grafana/data's
//    getFieldDisplayValuesProxy (as Grafana's template service does), `${NAME}` and
//    `${NAME:queryparam}` from the request's vars.
// 4. `nodeGraph`: the node graph panel's reading of its frames (public/app/plugins/panel/
//    nodeGraph, AGPL; re-stated, not copied): frames with refId or name `nodes`/`edges`
//    (or an `id` field) are graph frames; a frame with a field named `source` holds edges;
//    `options.edges.mainStatUnit` goes onto the edges' field NAMED `mainstat`; every node
//    and edge field is looked up by field NAME (FieldCache.getFieldByName), never by
//    display name; a number is shown as value.toFixed(decimals || 2) + ' ' + unit.
import { createRequire } from 'node:module';

// @grafana/data's ES modules import CommonJS packages by name, which Node refuses; its
// CommonJS build is the same code.
const require = createRequire(import.meta.url);
const {
  applyFieldOverrides,
  createTheme,
  FieldCache,
  FieldConfigOptionsRegistry,
  FieldType,
  formattedValueToString,
  getFieldDisplayName,
  getFieldDisplayValuesProxy,
  dataLinksOverrideProcessor,
  displayNameOverrideProcessor,
  identityOverrideProcessor,
  numberOverrideProcessor,
  standardTransformers,
  standardTransformersRegistry,
  stringOverrideProcessor,
  thresholdsOverrideProcessor,
  transformDataFrame,
  unitOverrideProcessor,
  valueMappingsOverrideProcessor,
} = require('@grafana/data');
const { firstValueFrom } = require('rxjs');

// The browser globals @grafana/data reads: transformDataFrame asks `window` whether it
// runs inside a Scenes dashboard; the date formats ask `navigator` for the locale (Node
// 20 has none). English, as Grafana's default.
globalThis.window ??= {};
globalThis.navigator ??= { language: 'en-US', languages: ['en-US'] };

// Every transformer @grafana/data defines, once per id (some are exported twice, under
// an old name too), as Grafana registers them.
standardTransformersRegistry.setInit(() =>
  [...new Map(Object.values(standardTransformers).map((t) => [t.id, t])).values()].map((t) => ({
    id: t.id,
    name: t.name,
    description: t.description,
    transformation: () => t,
  }))
);

const item = (id, path, process, isCustom = false) => ({
  id,
  path,
  name: id,
  process,
  isCustom,
  shouldApply: () => true,
  override: () => null,
  editor: () => null,
});
const fieldConfigRegistry = new FieldConfigOptionsRegistry(() => [
  item('displayName', 'displayName', displayNameOverrideProcessor),
  item('unit', 'unit', unitOverrideProcessor),
  item('decimals', 'decimals', numberOverrideProcessor),
  item('min', 'min', numberOverrideProcessor),
  item('max', 'max', numberOverrideProcessor),
  item('noValue', 'noValue', stringOverrideProcessor),
  item('mappings', 'mappings', valueMappingsOverrideProcessor),
  item('thresholds', 'thresholds', thresholdsOverrideProcessor),
  item('color', 'color', identityOverrideProcessor),
  item('links', 'links', dataLinksOverrideProcessor),
  item('custom.hidden', 'hidden', identityOverrideProcessor, true),
  item('custom.cellOptions', 'cellOptions', identityOverrideProcessor, true),
  item('custom.transform', 'transform', identityOverrideProcessor, true),
  item('custom.align', 'align', identityOverrideProcessor, true),
  item('custom.filterable', 'filterable', identityOverrideProcessor, true),
]);
const theme = createTheme();

function sampleValue(s) {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return parseFloat(s);
}

// Prometheus /api/v1/query data → one {labels, time ms, value} per sample.
function samples(data) {
  if (!data) return [];
  if (data.resultType === 'scalar') {
    return [{ labels: {}, t: data.result[0] * 1000, v: sampleValue(data.result[1]) }];
  }
  if (data.resultType === 'vector') {
    return data.result.map((r) => ({ labels: r.metric, t: r.value[0] * 1000, v: sampleValue(r.value[1]) }));
  }
  if (data.resultType === 'matrix') {
    return data.result.flatMap((r) => r.values.map(([t, v]) => ({ labels: r.metric, t: t * 1000, v: sampleValue(v) })));
  }
  throw new Error(`unsupported resultType ${data.resultType}`);
}

function legend(format, labels) {
  return (format ?? '').replace(/\{\{\s*(.+?)\s*\}\}/g, (_, name) => labels[name] ?? '');
}

// Our converter (1): the frames the Prometheus datasource hands the panel.
export function promFrames(panel, answers) {
  const targets = panel.targets ?? [];
  const frames = [];
  for (const t of targets) {
    const rows = samples(answers[t.refId]);
    if (t.format === 'table') {
      const names = [...new Set(rows.flatMap((r) => Object.keys(r.labels)))].sort();
      const valueName = targets.length > 1 ? `Value #${t.refId}` : 'Value';
      frames.push({
        refId: t.refId,
        meta: { preferredVisualisationType: 'rawPrometheus' },
        length: rows.length,
        fields: [
          { name: 'Time', type: FieldType.time, config: {}, values: rows.map((r) => r.t) },
          ...names.map((n) => ({
            name: n,
            type: n === 'le' ? FieldType.number : FieldType.string,
            config: { filterable: true },
            values: rows.map((r) => (n in r.labels ? (n === 'le' ? sampleValue(r.labels[n]) : r.labels[n]) : '')),
          })),
          { name: valueName, type: FieldType.number, config: {}, values: rows.map((r) => r.v) },
        ],
      });
    } else {
      const bySeries = new Map();
      for (const r of rows) {
        const key = JSON.stringify(Object.entries(r.labels).sort());
        if (!bySeries.has(key)) bySeries.set(key, { labels: r.labels, rows: [] });
        bySeries.get(key).rows.push(r);
      }
      for (const { labels, rows: rs } of bySeries.values()) {
        const config = t.legendFormat ? { displayNameFromDS: legend(t.legendFormat, labels) } : {};
        frames.push({
          refId: t.refId,
          length: rs.length,
          fields: [
            { name: 'Time', type: FieldType.time, config: {}, values: rs.map((r) => r.t) },
            { name: 'Value', type: FieldType.number, config, labels, values: rs.map((r) => r.v) },
          ],
        });
      }
    }
  }
  return frames;
}

// Our interpolation (3).
function replacer(vars) {
  return (value, scopedVars) =>
    (value ?? '').replace(/\$\{([^}]+)\}/g, (whole, expr) => {
      const m = /^__data\.fields\.(.+)$/.exec(expr);
      if (m) {
        const ctx = scopedVars?.__dataContext?.value;
        if (!ctx?.frame || ctx.rowIndex === undefined) return whole;
        const v = getFieldDisplayValuesProxy({ frame: ctx.frame, rowIndex: ctx.rowIndex })[m[1]];
        return v === undefined ? whole : encodeURIComponent(String(v));
      }
      const [name, fmt] = expr.split(':');
      if (!(name in vars)) return whole;
      return fmt === 'queryparam' ? `var-${name}=${encodeURIComponent(vars[name])}` : vars[name];
    });
}

function text(field, v) {
  return formattedValueToString(field.display(v));
}

function describeFrame(frame) {
  return {
    refId: frame.refId ?? null,
    name: frame.name ?? null,
    length: frame.length ?? (frame.fields[0]?.values.length ?? 0),
    fields: frame.fields.map((f) => ({
      name: f.name,
      displayName: getFieldDisplayName(f, frame),
      type: f.type,
      hidden: f.config?.custom?.hidden === true,
      values: [...f.values].map((v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)),
      texts: f.display ? [...f.values].map((v) => text(f, v)) : [],
      colors: f.display ? [...f.values].map((v) => f.display(v).color ?? null) : [],
    })),
  };
}

// What a table panel shows: its first frame's visible fields by display name, row by
// row as displayed text, and each row's data links.
function tableView(frames) {
  const frame = frames[0];
  if (!frame) return { frames: 0, columns: [], rows: [], links: [] };
  const visible = frame.fields.filter((f) => f.config?.custom?.hidden !== true);
  const n = frame.fields[0]?.values.length ?? 0;
  const rows = [];
  const links = [];
  for (let i = 0; i < n; i++) {
    const row = {};
    for (const f of visible) row[getFieldDisplayName(f, frame)] = text(f, f.values[i]);
    rows.push(row);
    const hrefs = [];
    for (const f of visible) {
      for (const l of f.getLinks?.({ valueRowIndex: i }) ?? []) hrefs.push(l.href);
    }
    links.push([...new Set(hrefs)]);
  }
  return { frames: frames.length, columns: visible.map((f) => getFieldDisplayName(f, frame)), rows, links };
}

// Our statement of the node graph panel's reading (4).
const NODE_FIELDS = ['id', 'title', 'subtitle', 'mainstat', 'secondarystat', 'color'];
const EDGE_FIELDS = ['id', 'source', 'target', 'mainstat', 'secondarystat'];
function statText(field, v) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  const decimals = field.config?.decimals || 2;
  const unit = field.config?.unit ? ' ' + field.config.unit : '';
  return v.toFixed(decimals) + unit;
}
function nodeGraphView(frames, options) {
  const graph = frames.filter(
    (f) =>
      f.meta?.preferredVisualisationType === 'nodeGraph' ||
      ['nodes', 'edges'].includes(f.name) ||
      ['nodes', 'edges'].includes(f.refId) ||
      new FieldCache(f).getFieldByName('id')
  );
  // A field is missing when no frame of its kind with rows has it (an empty frame — a
  // query without series — has only `Time` and its value column, and draws nothing).
  const out = { nodes: [], edges: [], missing: { nodes: [...NODE_FIELDS], edges: [...EDGE_FIELDS] } };
  for (const frame of graph) {
    if ((frame.fields[0]?.values.length ?? 0) === 0) continue;
    const isEdges = frame.name === 'edges' || !!new FieldCache(frame).getFieldByName('source');
    if (isEdges && options?.edges?.mainStatUnit) {
      const f = frame.fields.find((x) => x.name.toLowerCase() === 'mainstat');
      if (f) f.config = { ...f.config, unit: options.edges.mainStatUnit };
    }
    if (!isEdges && options?.nodes?.mainStatUnit) {
      const f = frame.fields.find((x) => x.name.toLowerCase() === 'mainstat');
      if (f) f.config = { ...f.config, unit: options.nodes.mainStatUnit };
    }
    // The options first, then the field lookups (FieldCache copies the fields).
    const cache = new FieldCache(frame);
    const names = isEdges ? EDGE_FIELDS : NODE_FIELDS;
    const fields = Object.fromEntries(names.map((n) => [n, cache.getFieldByName(n)]));
    const kind = isEdges ? 'edges' : 'nodes';
    out.missing[kind] = out.missing[kind].filter((n) => !fields[n]);
    const len = frame.fields[0]?.values.length ?? 0;
    for (let i = 0; i < len; i++) {
      const o = {};
      for (const n of names) {
        const f = fields[n];
        if (!f) continue;
        o[n] = n === 'mainstat' || n === 'secondarystat' ? statText(f, f.values[i]) : f.values[i];
      }
      out[kind].push(o);
    }
  }
  return out;
}

async function runPanel({ panel, answers }, vars) {
  const frames = promFrames(panel, answers ?? {});
  const ctx = { interpolate: (s) => s };
  const transformed = await firstValueFrom(transformDataFrame(panel.transformations ?? [], frames, ctx));
  const withConfig = applyFieldOverrides({
    data: transformed,
    fieldConfig: panel.fieldConfig ?? { defaults: {}, overrides: [] },
    fieldConfigRegistry,
    replaceVariables: replacer(vars),
    theme,
    timeZone: 'utc',
  });
  const out = {
    id: panel.id,
    type: panel.type,
    title: panel.title,
    frames: withConfig.map(describeFrame),
  };
  if (panel.type === 'table') out.table = tableView(withConfig);
  if (panel.type === 'nodeGraph') out.nodeGraph = nodeGraphView(withConfig, panel.options);
  return out;
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const panels = [];
  for (const p of req.panels ?? []) {
    try {
      panels.push(await runPanel(p, req.vars ?? {}));
    } catch (e) {
      panels.push({ id: p.panel?.id, title: p.panel?.title, error: String(e?.stack ?? e) });
    }
  }
  process.stdout.write(JSON.stringify({ panels }));
}

main().catch((e) => {
  process.stderr.write(`grafana harness: ${e?.stack ?? e}\n`);
  process.exit(1);
});
