"""The trial's own pure checks: the eligibility checklist (`eligibility`), oxygenation and
respiratory-mechanics indices (`indices`), and the study order with the check of the study
pump's programme against it (`order_check`, with `TrialEngine`)."""
