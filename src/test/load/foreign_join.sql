-- patterns joined to their executions
SELECT load_run('foreign_join');
