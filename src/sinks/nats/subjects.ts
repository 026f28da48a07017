// Names on the wire: one subject per host, episode and row source, and one
// message id per row (JetStream's duplicate window drops a replayed id).
import { subjectToken } from './config.js';

export interface EpisodeKey {
  prefix: string;
  host: string;
  episode: string;
}

export const rowSubject = (k: EpisodeKey, source: string) => `${k.prefix}.${subjectToken(k.host)}.${subjectToken(k.episode)}.${subjectToken(source)}`;
export const rowMsgId = (k: EpisodeKey, source: string, seq: number) => `${k.host}/${k.episode}/${source}/${seq}`;
/** episode.json and summary.json travel too, so a pulled episode is a whole episode directory. */
export const fileSubject = (k: EpisodeKey, file: 'episode' | 'summary') => `${k.prefix}.${subjectToken(k.host)}.${subjectToken(k.episode)}._${file}`;

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
