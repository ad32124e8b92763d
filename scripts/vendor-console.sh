#!/usr/bin/env bash
# Refresh the console's third-party assets in elasticjob/console/static/vendor from the npm registry.
# The results are committed: `make run` and `make test` need neither Node.js nor the network for them.
# Run by hand (`make console-vendor`) to upgrade; pin the versions here.
set -euo pipefail
cd "$(dirname "$0")/.."
PREACT_HTM=htm@3.1.1       # htm's standalone build: Preact 10, its hooks and htm tagged templates, one ES module
PICO=@picocss/pico@2.1.1   # Pico CSS: semantic, responsive, accessible styles for plain HTML
UPLOT=uplot@1.6.32         # uPlot: small, fast time-series charts (canvas), one ES module
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --no-audit --no-fund --silent "$PREACT_HTM" "$PICO" "$UPLOT")
out=elasticjob/console/static/vendor
mkdir -p "$out/licenses"
cp "$work/node_modules/htm/preact/standalone.module.js" "$out/preact-htm.js"
cp "$work/node_modules/@picocss/pico/css/pico.min.css" "$out/pico.min.css"
cp "$work/node_modules/uplot/dist/uPlot.esm.js" "$out/uplot.js"
cp "$work/node_modules/uplot/dist/uPlot.min.css" "$out/uplot.min.css"
cp "$work/node_modules/htm/LICENSE" "$out/licenses/htm-preact.LICENSE"
cp "$work/node_modules/@picocss/pico/LICENSE.md" "$out/licenses/pico.LICENSE.md"
cp "$work/node_modules/uplot/LICENSE" "$out/licenses/uplot.LICENSE"
printf '%s\n' "$PREACT_HTM" "$PICO" "$UPLOT" > "$out/VERSIONS"
echo "vendored: $(tr '\n' ' ' < "$out/VERSIONS")"
