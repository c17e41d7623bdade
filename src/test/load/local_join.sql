-- a local table joined to services and their patterns
SELECT load_run('local_join');
