"""Reports across calls: KPIs per agent / team / queue / day, keyword ranking, the
dashboard's data (rokuon.reports.service). Per-call figures are kept narrow in
``call_kpis`` / ``call_keyword_hits`` (rokuon.reports.figures), written with the
analysis, so aggregation happens in SQL."""
