/** "1 record", "2 records": counts in messages read as sentences. */
export const recordsWord = (n: number): string => `${n} record${n === 1 ? '' : 's'}`;
