// Names on the wire: one subject per host, episode and row source, and one
// message id per batch of rows naming its source and seq range (JetStream's
// duplicate window drops an exact replay; a batch cut otherwise after a
// restart has another id, and pull drops the rows it already wrote).
import { nameToken } from './names.js';

export interface EpisodeKey {
  prefix: string;
  host: string;
  episode: string;
}

/** `<host token>.<episode token>`: names as names.ts writes them, one token each. */
const hostEpisode = (k: EpisodeKey) => `${nameToken(k.host)}.${nameToken(k.episode)}`;
export const rowSubject = (k: EpisodeKey, source: string) => `${k.prefix}.${hostEpisode(k)}.${source}`;
/**
 * A batch of one source's rows firstSeq..lastSeq (a single row: N-N), ending
 * in the episode's id nonce: JetStream drops a message whose id it has seen,
 * whatever its subject, so an id another host could guess let it publish
 * that id first under its own subjects and have this host's message dropped.
 */
export const batchMsgId = (k: EpisodeKey, source: string, firstSeq: number, lastSeq: number, nonce: string) =>
  `${nameToken(k.host)}/${nameToken(k.episode)}/${source}/${firstSeq}-${lastSeq}/${nonce}`;
export const fileMsgId = (k: EpisodeKey, file: 'episode' | 'summary', nonce: string) => `${nameToken(k.host)}/${nameToken(k.episode)}/_${file}/${nonce}`;
/** The length of an id nonce (base64url of 16 random bytes). */
export const ID_NONCE_CHARS = 22;
/**
 * Bytes a message's headers may take besides its payload (NATS counts both
 * against max_payload): "NATS/1.0\r\nNats-Msg-Id: <id>\r\n\r\n" with the longest
 * id this episode can have (a 64-byte source, two 16-digit seqs), and spare.
 */
export const headerRoom = (k: EpisodeKey) => 64 + nameToken(k.host).length + nameToken(k.episode).length + 64 + 2 * 16 + 4 + 1 + ID_NONCE_CHARS;
/** episode.json and summary.json travel too, so a pulled episode is a whole episode directory. */
export const fileSubject = (k: EpisodeKey, file: 'episode' | 'summary') => `${k.prefix}.${hostEpisode(k)}._${file}`;

/** The collector file a source's rows live in (qmp_event rows share the qmp collector's file). */
export const FILE_OF_SOURCE: Record<string, string> = {
  host_proc: 'proc',
  host_cgroup: 'proc',
  host_perf: 'perf',
  pcap: 'pcap',
  netflow: 'netflow',
  qmp: 'qmp',
  qmp_event: 'qmp',
  guest: 'guest_agent',
  agent: 'agent',
};

/**
 * The rows file a source's rows are in (telemetry-<it>.jsonl): a line of one file claiming another's source is no
 * row of that file (the forwarder's acknowledged seq of that source would move past the other file's rows).
 */
export const fileOfSource = (source: string): string => (Object.hasOwn(FILE_OF_SOURCE, source) ? FILE_OF_SOURCE[source]! : source);
