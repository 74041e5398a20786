/**
 * Presets: named sources of the dataset, so that a collection is started by name. The real ones (REES46's
 * monthly files, Kaggle version 8) and the local ones differ only in base URL; the local ones point at the
 * origin of the local stack, which serves the sample under the same paths.
 */
import { KAGGLE_OWNER, KAGGLE_SLUG, KAGGLE_VERSION, MARKETPLACE_PATH } from '../sample/layout';
import type { SourceSpec } from '../source/types';
import { MONTHS } from './schema';

/** A named source with the dataset id its collections carry. */
export interface Preset {
  name: string;
  description: string;
  datasetId: string;
  source: SourceSpec;
}

/** The months the local sample has by default. */
export const SAMPLE_MONTHS = ['2019-Oct', '2019-Nov'];

/** The presets, given where the local origin and the Kaggle API are. */
export function presets(urls: { originUrl: string; kaggleApiUrl: string }): Preset[] {
  return [
    {
      name: 'local-sample',
      description: 'the dataset sample on the local origin, as REES46 publishes the months (.csv.gz)',
      datasetId: 'ecommerce-behavior-sample',
      source: {
        kind: 'http',
        urls: SAMPLE_MONTHS.map((month) => `${urls.originUrl}${MARKETPLACE_PATH}/${month}.csv.gz`),
      },
    },
    {
      name: 'local-kaggle',
      description: `the dataset sample through the local origin's Kaggle API (version ${KAGGLE_VERSION}, zipped CSVs)`,
      datasetId: 'ecommerce-behavior-sample-kaggle',
      source: {
        kind: 'kaggle',
        apiUrl: `${urls.originUrl}/api/v1`,
        owner: KAGGLE_OWNER,
        slug: KAGGLE_SLUG,
        version: KAGGLE_VERSION,
      },
    },
    {
      name: 'rees46',
      description: 'the seven monthly files REES46 publishes (2019-Oct to 2020-Apr, .csv.gz, 16.7 GB)',
      datasetId: 'ecommerce-behavior-rees46',
      source: {
        kind: 'http',
        urls: MONTHS.map((month) => `https://data.rees46.com${MARKETPLACE_PATH}/${month.name}.csv.gz`),
      },
    },
    {
      name: 'kaggle',
      description: `Kaggle ${KAGGLE_OWNER}/${KAGGLE_SLUG} version ${KAGGLE_VERSION} (2019-Oct, 2019-Nov, zipped CSVs)`,
      datasetId: 'ecommerce-behavior-kaggle',
      source: {
        kind: 'kaggle',
        apiUrl: urls.kaggleApiUrl,
        owner: KAGGLE_OWNER,
        slug: KAGGLE_SLUG,
        version: KAGGLE_VERSION,
      },
    },
  ];
}
