#!/usr/bin/env bash
# Regenerates deploy/ from the Helm chart, for users without Helm:
#   deploy/entra-sidecar.yaml       the chart with default values (release and namespace
#                                   "entra-sidecar"), plus the Namespace, without the helm test pod
#   deploy/prometheus-rules.yaml    the PrometheusRule's groups as a plain Prometheus rules file
#   deploy/grafana-dashboard.json   the dashboard the chart ships
#
#   scripts/render-deploy.sh          # rewrite deploy/
#   scripts/render-deploy.sh --check  # exit 1 if deploy/ is not what the chart renders
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chart="$root/charts/entra-sidecar"
release=entra-sidecar
namespace=entra-sidecar

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

helm="$("$root/scripts/fetch-helm.sh")/helm"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

{
  cat <<HEADER
# entra-sidecar, rendered from charts/entra-sidecar with its default values by
# scripts/render-deploy.sh: do not edit, change the chart and run the script.
#
#   kubectl apply -f deploy/entra-sidecar.yaml
#
# Installs into namespace "$namespace" with self-managed TLS (the webhook makes its own
# certificate and writes its CA into the MutatingWebhookConfiguration). Set the image first:
# every "image: entra-sidecar:<version>" and the --sidecar-image flag name the image you built
# from the Dockerfile. To change anything else, prefer the chart: helm template ... > your.yaml
---
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels:
    app.kubernetes.io/part-of: entra-sidecar
    pod-security.kubernetes.io/enforce: restricted
HEADER
  "$helm" template "$release" "$chart" --namespace "$namespace" --skip-tests
} >"$out/entra-sidecar.yaml"

"$helm" template "$release" "$chart" --namespace "$namespace" \
  --set monitoring.prometheusRule.enabled=true --show-only templates/prometheusrule.yaml >"$out/prometheusrule.yaml"
(cd "$root" && node --input-type=module -e '
  import { readFileSync, writeFileSync } from "node:fs";
  import { parse, stringify } from "yaml";
  const [from, to, namespace] = process.argv.slice(1);
  const rule = parse(readFileSync(from, "utf8"));
  const header = [
    "# Alerting rules for entra-sidecar, for Prometheus without the operator (rule_files:).",
    "# Rendered from charts/entra-sidecar by scripts/render-deploy.sh: do not edit.",
    "# Sidecar series need namespace and pod labels (kubernetes_sd pod role relabelling); the",
    `# webhook down alert expects the webhook scrape job to be named "entra-sidecar" with namespace="${namespace}".`,
    "#   promtool check rules deploy/prometheus-rules.yaml",
  ].join("\n");
  writeFileSync(to, `${header}\n${stringify(rule.spec, { lineWidth: 0 })}`);
' "$out/prometheusrule.yaml" "$out/prometheus-rules.yaml" "$namespace")
rm "$out/prometheusrule.yaml"

cp "$chart/dashboards/entra-sidecar.json" "$out/grafana-dashboard.json"

if [ "$check" -eq 1 ]; then
  status=0
  for f in entra-sidecar.yaml prometheus-rules.yaml grafana-dashboard.json; do
    if ! cmp -s "$out/$f" "$root/deploy/$f"; then
      echo "deploy/$f is not what the chart renders: run scripts/render-deploy.sh and commit the result" >&2
      status=1
    fi
  done
  exit "$status"
fi

mkdir -p "$root/deploy"
for f in entra-sidecar.yaml prometheus-rules.yaml grafana-dashboard.json; do
  cp "$out/$f" "$root/deploy/$f"
done
echo "deploy/ rendered from charts/entra-sidecar"
