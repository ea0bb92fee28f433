-- The schema as the console made it before migrations (main at e099228): `sqlite3 tooldesk.db .schema` of a
-- fresh console database, the embedded simulator's tables included. Frozen: tests build "a database made
-- before this change" from it (tests/unit/test_migrations.py).
CREATE TABLE audit (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	who VARCHAR NOT NULL, 
	action VARCHAR NOT NULL, 
	detail VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_audit_at ON audit (at);
CREATE TABLE user (
	id INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	role VARCHAR NOT NULL, 
	password_hash VARCHAR NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_user_name ON user (name);
CREATE TABLE apitoken (
	id INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	role VARCHAR NOT NULL, 
	token_hash VARCHAR NOT NULL, 
	prefix VARCHAR NOT NULL, 
	created_at FLOAT NOT NULL, 
	created_by VARCHAR NOT NULL, 
	last_used_at FLOAT, 
	revoked_at FLOAT, 
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_apitoken_token_hash ON apitoken (token_hash);
CREATE TABLE handler (
	id INTEGER NOT NULL, 
	agent_id VARCHAR NOT NULL, 
	tool_name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	mode VARCHAR NOT NULL, 
	spec JSON NOT NULL, 
	behaviour JSON NOT NULL, 
	version INTEGER NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (agent_id, tool_name)
);
CREATE INDEX ix_handler_agent_id ON handler (agent_id);
CREATE TABLE handler_version (
	id INTEGER NOT NULL, 
	handler_id INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	mode VARCHAR NOT NULL, 
	spec JSON NOT NULL, 
	behaviour JSON NOT NULL, 
	saved_at FLOAT NOT NULL, 
	note VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_handler_version_handler_id ON handler_version (handler_id);
CREATE TABLE draft (
	answered_kind VARCHAR NOT NULL, 
	answered_version INTEGER, 
	answered_user VARCHAR, 
	answered_replay_of INTEGER, 
	id INTEGER NOT NULL, 
	round_id INTEGER NOT NULL, 
	tool_call_id VARCHAR NOT NULL, 
	mode VARCHAR NOT NULL, 
	output VARCHAR NOT NULL, 
	is_error BOOLEAN NOT NULL, 
	note VARCHAR NOT NULL, 
	logs VARCHAR NOT NULL, 
	duration_ms FLOAT NOT NULL, 
	created_at FLOAT NOT NULL, 
	as_json BOOLEAN NOT NULL, 
	updated_at FLOAT, 
	claimed_at FLOAT, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_draft_round_id ON draft (round_id);
CREATE UNIQUE INDEX uq_draft_typed ON draft (round_id, tool_call_id, answered_user) WHERE mode = 'typed';
CREATE TABLE outbox (
	answered_kind VARCHAR NOT NULL, 
	answered_version INTEGER, 
	answered_user VARCHAR, 
	answered_replay_of INTEGER, 
	id INTEGER NOT NULL, 
	round_id INTEGER NOT NULL, 
	task_id INTEGER NOT NULL, 
	agent_id VARCHAR NOT NULL, 
	body JSON NOT NULL, 
	idempotency_key VARCHAR NOT NULL, 
	sources JSON NOT NULL, 
	state VARCHAR NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at FLOAT NOT NULL, 
	last_error VARCHAR NOT NULL, 
	created_at FLOAT NOT NULL, 
	sent_at FLOAT, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_outbox_state ON outbox (state);
CREATE UNIQUE INDEX ix_outbox_round_id ON outbox (round_id);
CREATE TABLE setting (
	"key" VARCHAR NOT NULL, 
	value VARCHAR NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE agent (
	agent_id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	description VARCHAR NOT NULL, 
	tools JSON NOT NULL, 
	inputs JSON NOT NULL, 
	synced_at FLOAT NOT NULL, 
	PRIMARY KEY (agent_id)
);
CREATE TABLE run (
	task_id INTEGER NOT NULL, 
	agent_id VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	sequence INTEGER NOT NULL, 
	round INTEGER, 
	environment VARCHAR, 
	string_inputs JSON, 
	result JSON, 
	error JSON, 
	started_by VARCHAR, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	replay_of INTEGER, 
	replay_until INTEGER, 
	ended_at FLOAT, 
	handler_set VARCHAR NOT NULL, 
	PRIMARY KEY (task_id)
);
CREATE INDEX ix_run_status ON run (status);
CREATE INDEX ix_run_agent_id ON run (agent_id);
CREATE INDEX ix_run_created_at ON run (created_at);
CREATE TABLE delivery (
	id INTEGER NOT NULL, 
	received_at FLOAT NOT NULL, 
	webhook_id VARCHAR, 
	headers JSON NOT NULL, 
	body BLOB NOT NULL, 
	verdict VARCHAR NOT NULL, 
	message VARCHAR NOT NULL, 
	answered_status INTEGER NOT NULL, 
	task_id INTEGER, 
	sequence INTEGER, 
	status VARCHAR, 
	replay_of INTEGER, 
	body_length INTEGER, 
	body_sha256 VARCHAR, 
	body_truncated BOOLEAN NOT NULL, 
	console_made BOOLEAN NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_delivery_webhook_id ON delivery (webhook_id);
CREATE INDEX ix_delivery_received_at ON delivery (received_at, verdict);
CREATE INDEX ix_delivery_task_id ON delivery (task_id);
CREATE INDEX ix_delivery_verdict ON delivery (verdict);
CREATE UNIQUE INDEX uq_delivery_webhook_id ON delivery (webhook_id) WHERE verdict IN ('applied', 'history');
CREATE TABLE round (
	answered_kind VARCHAR, 
	answered_version INTEGER, 
	answered_user VARCHAR, 
	answered_replay_of INTEGER, 
	id INTEGER NOT NULL, 
	task_id INTEGER NOT NULL, 
	agent_id VARCHAR NOT NULL, 
	round INTEGER NOT NULL, 
	state VARCHAR NOT NULL, 
	expires_at VARCHAR, 
	opened_at FLOAT NOT NULL, 
	submitted_at FLOAT, 
	acknowledged_at FLOAT, 
	message VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (task_id, round)
);
CREATE INDEX ix_round_state ON round (state);
CREATE INDEX ix_round_task_id ON round (task_id);
CREATE INDEX ix_round_submitted_at ON round (submitted_at);
CREATE TABLE event (
	id INTEGER NOT NULL, 
	task_id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	kind VARCHAR NOT NULL, 
	summary VARCHAR NOT NULL, 
	delivery_id INTEGER, 
	round_id INTEGER, 
	console_made BOOLEAN NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_event_task_id ON event (task_id);
CREATE TABLE signinsession (
	id_hash VARCHAR NOT NULL, 
	user_id INTEGER NOT NULL, 
	created_at FLOAT NOT NULL, 
	last_seen_at FLOAT NOT NULL, 
	address VARCHAR NOT NULL, 
	PRIMARY KEY (id_hash), 
	FOREIGN KEY(user_id) REFERENCES user (id) ON DELETE CASCADE
);
CREATE INDEX ix_signinsession_user_id ON signinsession (user_id);
CREATE TABLE signinticket (
	ticket_hash VARCHAR NOT NULL, 
	user_id INTEGER NOT NULL, 
	expires_at FLOAT NOT NULL, 
	"then" VARCHAR NOT NULL, 
	PRIMARY KEY (ticket_hash), 
	FOREIGN KEY(user_id) REFERENCES user (id) ON DELETE CASCADE
);
CREATE INDEX ix_signinticket_user_id ON signinticket (user_id);
CREATE TABLE tool_call (
	id INTEGER NOT NULL, 
	round_id INTEGER NOT NULL, 
	tool_call_id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	arguments JSON NOT NULL, 
	position INTEGER NOT NULL, 
	arguments_text VARCHAR, 
	arguments_problem VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(round_id) REFERENCES round (id)
);
CREATE INDEX ix_tool_call_round_id ON tool_call (round_id);
CREATE TABLE tool_result (
	answered_kind VARCHAR NOT NULL, 
	answered_version INTEGER, 
	answered_user VARCHAR, 
	answered_replay_of INTEGER, 
	id INTEGER NOT NULL, 
	round_id INTEGER NOT NULL, 
	tool_call_id VARCHAR NOT NULL, 
	output VARCHAR NOT NULL, 
	is_error BOOLEAN NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(round_id) REFERENCES round (id)
);
CREATE INDEX ix_tool_result_round_id ON tool_result (round_id);
CREATE TABLE run_count (status VARCHAR PRIMARY KEY, runs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER run_count_insert AFTER INSERT ON run BEGIN
        INSERT INTO run_count (status, runs) VALUES (NEW.status, 1)
            ON CONFLICT (status) DO UPDATE SET runs = runs + 1;
    END;
CREATE TRIGGER run_count_update AFTER UPDATE OF status ON run WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE run_count SET runs = runs - 1 WHERE status = OLD.status;
        INSERT INTO run_count (status, runs) VALUES (NEW.status, 1)
            ON CONFLICT (status) DO UPDATE SET runs = runs + 1;
    END;
CREATE TRIGGER run_count_delete AFTER DELETE ON run BEGIN
        UPDATE run_count SET runs = runs - 1 WHERE status = OLD.status;
    END;
CREATE VIRTUAL TABLE run_fts USING fts5(body, tokenize='trigram case_sensitive 0')
/* run_fts(body) */;
CREATE TABLE IF NOT EXISTS 'run_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE IF NOT EXISTS 'run_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS 'run_fts_content'(id INTEGER PRIMARY KEY, c0);
CREATE TABLE IF NOT EXISTS 'run_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE IF NOT EXISTS 'run_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE run_fts_stale (task_id INTEGER PRIMARY KEY);
CREATE TRIGGER run_fts_mark_call_insert AFTER INSERT ON tool_call BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = NEW.round_id) AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_call_update AFTER UPDATE OF name, arguments, arguments_text, round_id ON tool_call BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = OLD.round_id) AS t) WHERE t IS NOT NULL; INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = NEW.round_id) AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_call_delete AFTER DELETE ON tool_call BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = OLD.round_id) AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_result_insert AFTER INSERT ON tool_result BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = NEW.round_id) AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_result_update AFTER UPDATE OF output, round_id ON tool_result BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = OLD.round_id) AS t) WHERE t IS NOT NULL; INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = NEW.round_id) AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_result_delete AFTER DELETE ON tool_result BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT (SELECT task_id FROM round WHERE id = OLD.round_id) AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_run_insert AFTER INSERT ON run WHEN NEW.result IS NOT NULL BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT NEW.task_id AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_run_update AFTER UPDATE OF result, task_id ON run WHEN OLD.result IS NOT NEW.result OR OLD.task_id IS NOT NEW.task_id BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT OLD.task_id AS t) WHERE t IS NOT NULL; INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT NEW.task_id AS t) WHERE t IS NOT NULL; END;
CREATE TRIGGER run_fts_mark_run_delete AFTER DELETE ON run BEGIN INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT OLD.task_id AS t) WHERE t IS NOT NULL; END;
CREATE TABLE sim_run (
	task_id INTEGER NOT NULL, 
	agent_id VARCHAR NOT NULL, 
	state VARCHAR NOT NULL, 
	status JSON NOT NULL, 
	inputs JSON NOT NULL, 
	outputs JSON NOT NULL, 
	errors JSON NOT NULL, 
	next_step INTEGER NOT NULL, 
	calls JSON NOT NULL, 
	used_ids JSON NOT NULL, 
	deadline FLOAT NOT NULL, 
	failure JSON, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (task_id)
);
CREATE INDEX ix_sim_run_state ON sim_run (state);
CREATE TABLE sim_tool_responses (
	id INTEGER NOT NULL, 
	task_id INTEGER NOT NULL, 
	round INTEGER NOT NULL, 
	body JSON NOT NULL, 
	received_at FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_sim_tool_responses_task_id ON sim_tool_responses (task_id);
CREATE TABLE sim_idempotency_key (
	"key" VARCHAR NOT NULL, 
	fingerprint VARCHAR NOT NULL, 
	reply JSON NOT NULL, 
	stored_at FLOAT NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE sim_delivery (
	id INTEGER NOT NULL, 
	webhook_id VARCHAR NOT NULL, 
	task_id INTEGER NOT NULL, 
	body JSON NOT NULL, 
	queued_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (webhook_id)
);
