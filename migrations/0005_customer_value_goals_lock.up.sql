-- When a rule was first seen running by a change to it (a pause, a
-- replacement): from then on its goals and cycle settings stay locked,
-- paused or not. A rule running now is locked by its status and start
-- alone; one paused before this column existed cannot be told apart from
-- one that never ran, and stays editable.
ALTER TABLE customer_value_rules ADD COLUMN goals_locked_at timestamptz;

UPDATE customer_value_rules SET goals_locked_at = now()
WHERE status = 'active' AND (definition->>'starts_at')::timestamptz <= now();
