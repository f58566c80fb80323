-- Which Ray cluster session a job's task was submitted to, so that jobs whose cluster went away
-- (a `liftos down`, a lost head) are found and submitted again instead of staying queued or
-- running for ever (deployments/common/job_tasks.py). NULL: submitted before this column.

ALTER TABLE causal_jobs ADD COLUMN ray_session text;
ALTER TABLE surfacing_audits ADD COLUMN ray_session text;
ALTER TABLE eval_runs ADD COLUMN ray_session text;

-- Unfinished jobs of one job table (a fixed list, never a name from input) across every org,
-- submitted to another session than ``current_session`` and created before ``created_before``
-- (so a job whose submission is being recorded right now is not taken for a lost one).
CREATE FUNCTION liftos.lost_jobs(job_table text, current_session text, created_before timestamptz)
    RETURNS TABLE (org_id uuid, id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    BEGIN
        IF job_table NOT IN ('causal_jobs', 'surfacing_audits', 'eval_runs') THEN
            RAISE EXCEPTION 'not a job table: %', job_table;
        END IF;
        RETURN QUERY EXECUTE format(
            'SELECT j.org_id, j.id FROM %I j WHERE j.status IN (''queued'', ''running'') '
            'AND j.ray_session IS DISTINCT FROM $1 AND j.created_at < $2 ORDER BY j.created_at',
            job_table
        ) USING current_session, created_before;
    END $$;

REVOKE ALL ON FUNCTION liftos.lost_jobs(text, text, timestamptz) FROM PUBLIC;
