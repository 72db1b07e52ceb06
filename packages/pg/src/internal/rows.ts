/** Helpers the PostgreSQL stores share with the SQLite ones (one formatting of errors and rows for both). */
import { Rows, Sql } from "@switchyard/sqlite"

export const { formatParseError, JsonRecord, rawKey, SqliteBoolean } = Rows

/** A one-line reason for a foreign error (the driver's message after the client's). */
export const describe = Sql.describe
