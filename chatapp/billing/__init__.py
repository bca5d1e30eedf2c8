"""What every call costs: prices, the usage record of each call, budgets, the spend added up per
day."""
