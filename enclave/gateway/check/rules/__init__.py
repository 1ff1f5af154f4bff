"""Policy rules of the gateway's front half, one small function per module.

``parse`` uses ``require_single_select`` and ``limit_sizes``; ``authorise`` uses
``allowed_tables`` and ``allowed_columns``; ``check_shape`` runs, in order:
``allowed_nodes`` (with ``allowed_functions``), ``inline_ctes``, ``person_join_only``,
``deny_identifier_grouping``, ``bounded_aggregates.within_group_to_quantile``,
``require_aggregate``, ``bounded_aggregates``, ``total_expressions`` (with
``total_functions``), ``post_aggregation`` and ``promote_numbers``.
"""

__all__: list[str] = []
