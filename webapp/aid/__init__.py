"""家庭共济 aggregate: states (enums, transition tables), models, rules, notices (words), queries
and spending (what pages show), steps (lock + apply a transition), services (commands),
invitation (the 'aid' invitation handler), payments (the settlement seam ``payer_for``)."""
