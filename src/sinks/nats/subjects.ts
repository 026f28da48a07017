// Names on the wire: one subject per host, episode and row source, and one
// message id per row (JetStream's duplicate window drops a replayed id).
import { nameToken } from './names.js';

export interface EpisodeKey {
  prefix: string;
  host: string;
  episode: string;
}

/** `<host token>.<episode token>`: names as names.ts writes them, one token each. */
const hostEpisode = (k: EpisodeKey) => `${nameToken(k.host)}.${nameToken(k.episode)}`;
export const rowSubject = (k: EpisodeKey, source: string) => `${k.prefix}.${hostEpisode(k)}.${source}`;
export const rowMsgId = (k: EpisodeKey, source: string, seq: number) => `${nameToken(k.host)}/${nameToken(k.episode)}/${source}/${seq}`;
/** episode.json and summary.json travel too, so a pulled episode is a whole episode directory. */
export const fileSubject = (k: EpisodeKey, file: 'episode' | 'summary') => `${k.prefix}.${hostEpisode(k)}._${file}`;

/** The collector file a source's rows live in (qmp_event rows share the qmp collector's file). */
export const FILE_OF_SOURCE: Record<string, string> = {
  host_proc: 'proc',
  host_perf: 'perf',
  pcap: 'pcap',
  netflow: 'netflow',
  qmp: 'qmp',
  qmp_event: 'qmp',
  guest: 'guest_agent',
  agent: 'agent',
};
