/** HTTP upload slots (XEP-0363): who may PUT which file, and whether it arrived. The bytes live in files. */
import { asBoolean, type SqlDatabase } from '../sql/sqlDatabase.js';

export interface UploadRow {
  id: string;
  owner: string;
  filename: string;
  contentType: string;
  size: number;
  createdAt: number;
  complete: boolean;
}

export interface UploadRecords {
  insert(row: Omit<UploadRow, 'complete'>): Promise<void>;
  get(id: string): Promise<UploadRow | undefined>;
  /** Marks the upload complete; false if it was already (a second PUT) or does not exist. */
  complete(id: string): Promise<boolean>;
}

export class SqlUploadRecords implements UploadRecords {
  constructor(private readonly db: SqlDatabase) {}

  async insert(row: Omit<UploadRow, 'complete'>): Promise<void> {
    await this.db.run('INSERT INTO uploads (id, owner, filename, content_type, size, created_at, complete) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      row.id,
      row.owner,
      row.filename,
      row.contentType,
      row.size,
      row.createdAt,
      false,
    ]);
  }

  async get(id: string): Promise<UploadRow | undefined> {
    const r = await this.db.get<Record<string, string | number | boolean>>(
      'SELECT id, owner, filename, content_type, size, created_at, complete FROM uploads WHERE id = ?',
      [id],
    );
    return (
      r && {
        id: String(r.id),
        owner: String(r.owner),
        filename: String(r.filename),
        contentType: String(r.content_type),
        size: Number(r.size),
        createdAt: Number(r.created_at),
        complete: asBoolean(r.complete),
      }
    );
  }

  async complete(id: string): Promise<boolean> {
    return (await this.db.run('UPDATE uploads SET complete = ? WHERE id = ? AND complete = ?', [true, id, false])) > 0;
  }
}
