"""The book's experiments, from the table a page shows back to the training runs behind it.

* ``plan``: which runs each table needs (``Spec`` rows, the profiles' ``Plan`` of seeds and grids);
* ``cache``: the run cache (train a config once, reuse its finished run, read runs back as rows);
* ``cost``: FLOPs, parameters and timings of a table's models, cached under runs/<profile>/;
* ``pages``: the tables' pages beside the paper, summaries over seeds and provenance.

The notebooks call these through this package (``from cmrlib import experiments as ex``). Accuracies are in
percent, like the paper's.
"""
from cmrlib.experiments.cache import (all_runs, available_profiles, direction_cached, elsewhere, evaluate_cached,
                                      find_run, grid, learning_curves, quietly, rebuild_weights, root, run,
                                      run_spec, stale_runs, train_all, train_cached, missing_runs,
                                      planned_configs, check_data, evaluate_planned, worker_pool)
from cmrlib.experiments.cost import (CPU_TIMING_THREADS, cost_table, model_cost, speed, speed_device, speed_summary,
                                     training_speedups)
from cmrlib.experiments.pages import (ablation_page, comparison_page, dataset_page, generation_page,
                                      generation_record, glue, mean_std, provenance,
                                      provenance_frame, recipe_page,
                                      summarise, table3_page, tree_page, two_benchmarks_page, variants_page,
                                      verify_page, versions_page, zoo_page)
from cmrlib.experiments.plan import (DISPLAY, KINETICS, LONGRANGE, MIDDLE_FRAME, PHYSICS, PLANS, R50_SHAPE,
                                     SOMETHING, TABLE1_METHODS, Plan, Spec, check_methods, check_profile,
                                     frames_for, SEQUENTIAL_RECORD, first_look_record, longrange_plan_specs,
                                     longrange_specs, look_two_seeds, page_grids, parse_seeds, physics_specs, plan,
                                     resolve, seeds_for, spec, table1_plan_specs, table1_specs, table3_specs,
                                     table4_specs, table5_specs, table6_specs, table7_specs, variant_specs)
