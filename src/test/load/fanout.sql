-- the configuration of every service: a list, then one GET per service
SELECT load_run('fanout');
