-- A quality rating of a generation in [0, 1] (a reviewer's score, a judge model's grade),
-- reported with its outcomes; the leaderboard's `quality` metric ranks models on it.
ALTER TABLE llm_outcomes
    ADD COLUMN quality double precision CHECK (quality >= 0 AND quality <= 1);
