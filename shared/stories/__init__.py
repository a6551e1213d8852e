"""Stories: near-duplicate articles (wire copies, re-headlined, trimmed, extended versions)
grouped under one ``story_id`` (README: "Stories, not copies")."""
