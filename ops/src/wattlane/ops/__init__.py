"""Operations as code: SLO rules and Grafana dashboards, rendered into the chart."""
