-- NPS reports read survey_response events of a program over a time range: an index of their own
-- keeps that from scanning every purchase.
create index events_survey_responses on events (tenant_id, program_id, occurred_at) where type = 'survey_response';
