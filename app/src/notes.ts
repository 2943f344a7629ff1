import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';

export const MAX_NOTE_LENGTH = 1000;

export interface Note {
  id: number;
  text: string;
  createdAt: string;
}

interface NoteRow {
  id: string; // bigint arrives as a string from pg
  text: string;
  created_at: Date;
}

const createNoteBody = z.object({
  text: z
    .string({ error: 'text must be a string' })
    .trim()
    .min(1, 'text must not be empty')
    .max(MAX_NOTE_LENGTH, `text must be at most ${MAX_NOTE_LENGTH} characters`),
});

const listQuery = z.object({
  limit: z
    .string()
    .regex(/^\d+$/, 'limit must be a whole number')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 100, 'limit must be between 1 and 100')
    .optional(),
});

/** Ids are bigint identity values; anything else cannot name a note. */
const ID_PATTERN = /^[1-9]\d{0,15}$/;

function toNote(row: NoteRow): Note {
  return { id: Number(row.id), text: row.text, createdAt: row.created_at.toISOString() };
}

function badRequest(reply: FastifyReply, error: z.ZodError): FastifyReply {
  return reply.code(400).send({
    error: 'invalid_request',
    message: error.issues.map((i) => i.message).join('; '),
    issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  });
}

export function registerNoteRoutes(app: FastifyInstance, pool: Pool): void {
  app.get('/api/notes', async (request, reply) => {
    const query = listQuery.safeParse(request.query);
    if (!query.success) return badRequest(reply, query.error);
    const { rows } = await pool.query<NoteRow>(
      'SELECT id, text, created_at FROM notes ORDER BY created_at DESC, id DESC LIMIT $1',
      [query.data.limit ?? 50],
    );
    return { notes: rows.map(toNote) };
  });

  app.post('/api/notes', async (request, reply) => {
    const body = createNoteBody.safeParse(request.body);
    if (!body.success) return badRequest(reply, body.error);
    const { rows } = await pool.query<NoteRow>(
      'INSERT INTO notes (text) VALUES ($1) RETURNING id, text, created_at',
      [body.data.text],
    );
    const note = toNote(rows[0] as NoteRow);
    return reply.code(201).header('location', `/api/notes/${note.id}`).send(note);
  });

  app.get<{ Params: { id: string } }>('/api/notes/:id', async (request, reply) => {
    const { id } = request.params;
    const notFound = { error: 'not_found', message: `note ${id} does not exist` };
    if (!ID_PATTERN.test(id)) return reply.code(404).send(notFound);
    const { rows } = await pool.query<NoteRow>('SELECT id, text, created_at FROM notes WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) return reply.code(404).send(notFound);
    return toNote(row);
  });
}
