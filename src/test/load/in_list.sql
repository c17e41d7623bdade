-- id IN (three ids): one GET each
SELECT load_run('in_list');
