"""Names, units and meanings of every reported metric (MODEL.md §7)."""

from __future__ import annotations

#: Weekly metrics, one value per replication per week: name -> (unit, meaning).
WEEKLY: dict[str, tuple[str, str]] = {
    "tokens_per_employee": ("Mtok/employee/week", "tokens used, productive plus gaming"),
    "cost_per_employee": ("$/employee/week", "token bill"),
    "value_per_employee": ("$/employee/week", "real value, after shocks and the gaming burden"),
    "attention_per_employee": ("$/employee/week", "employee time spent directing AI (tau per productive Mtok)"),
    "net_value_per_employee": ("$/employee/week", "value minus token cost, attention time and overhead"),
    "overhead_per_employee": ("$/employee/week", "audit and justification overhead"),
    "payouts_per_employee": ("$/employee/week", "cash bonuses paid (a transfer, not in net value)"),
    "roi": ("ratio", "real value / token cost"),
    "gaming_share": ("share of tokens", "tokens burnt for the metric only"),
    "waste_share": ("share of tokens", "productive tokens past marginal value = price"),
    "maxxer_share": ("share of employees", "employees playing the maxxer strategy"),
    "goodhart_rho": ("Spearman rho", "rank correlation of metric and real value"),
    "mean_skill": ("0-1", "mean AI proficiency"),
    "cutoff": ("Mtok/week", "top-decile cut-off of the metric (the leaderboard bar)"),
    "budget_utilisation": ("share", "spent / allocated so far this period (budget only)"),
    "audits_per_employee": ("audits/employee/week", "ROI-gate audits"),
    "penalty_rate": ("detections/employee/week", "gaming detections penalised"),
    "throttled_share": ("share of employees", "employees under an ROI-gate throttle"),
    "payoff_honest": ("$/employee/week", "mean visible payoff of honest employees"),
    "payoff_maxxer": ("$/employee/week", "mean visible payoff of maxxers"),
    "list_price": ("$/Mtok", "the list price (with tiers: the geometric mean of the tiers' list prices)"),
}

#: Headline metrics summarised across replications: name -> (unit, meaning).
SUMMARY: dict[str, tuple[str, str]] = {
    "tokens": ("Mtok/employee/week", "mean weekly tokens per employee over the horizon"),
    "cost": ("$/employee/week", "mean weekly token bill per employee"),
    "value": ("$/employee/week", "mean weekly real value per employee"),
    "net_value": ("$/employee/week", "value - token cost - attention time - overhead"),
    "roi": ("ratio", "total value / total token cost"),
    "gaming_share": ("share of tokens", "gaming tokens / all tokens, over the horizon"),
    "waste_share": ("share of tokens", "wasted productive tokens / all tokens"),
    "maxxer_share": ("share of employees", "maxxers at the final week"),
    "goodhart_rho": ("Spearman rho", "metric-value rank correlation, mean over weeks"),
    "mean_skill": ("0-1", "mean skill at the final week"),
    "overhead": ("$/employee/week", "mean weekly audit overhead per employee"),
    "payouts": ("$/employee/week", "mean weekly cash bonuses per employee"),
    "cutoff": ("Mtok/week", "mean top-decile cut-off over the horizon"),
}
