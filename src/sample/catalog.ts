/**
 * The store's catalog behind the local sample: categories (a 19-digit `category_id`, a `category_code` or
 * none), brands, and products with a fixed price. It is built once per seed and shared by every month, as
 * the real store's catalog is, so that a `category_id` means the same `category_code` in every file.
 *
 * Each product's columns are rendered once, as bytes, into one buffer (`product_id,category_id,category_code,
 * brand,` then the price), so that writing a row costs a few byte copies instead of a string per field.
 *
 * Shares are controlled here rather than left to chance: categories fall in two groups (with and without a
 * `category_code`) that the rows pick between at each month's share, and brands are left empty on products
 * chosen until they carry the wanted share of the events their group's popularity gives them.
 */
import { Random } from './random.js';

/** The share of events whose product has no brand (the published months show 12 to 14.4 %). */
export const EMPTY_BRAND_SHARE = 0.132;

/**
 * Product prices in cents: up to the highest published price (2574.07). The published prices of 0.00 are
 * made per row (see `./rows.ts`), so a product's own price stays above it.
 */
const MIN_PRICE_CENTS = 77;
const MAX_PRICE_CENTS = 257_407;

/** `product_id` range seen in the published files. */
const MIN_PRODUCT_ID = 1_000_978;
const MAX_PRODUCT_ID = 100_063_693;

/** `category_id` range seen in the published files: about 2.05e18 to 2.23e18, beyond a double's 2^53. */
const MIN_CATEGORY_ID = 2_053_013_552_226_107_603n;
const CATEGORY_ID_SPAN = 180_000_000_000_000_000n;

/** Categories without a code, and products in all: fewer than the store has, enough for a varied sample. */
const UNCODED_CATEGORIES = 360;
const PRODUCTS = 60_000;

/**
 * Category codes with a typical price in dollars, most popular first (the order gives their weight). Codes
 * follow the published files' style: lower case, dot-separated, two to four levels.
 */
const TAXONOMY: readonly (readonly [code: string, price: number])[] = [
  ['electronics.smartphone', 320],
  ['electronics.clocks', 180],
  ['electronics.video.tv', 420],
  ['computers.notebook', 640],
  ['electronics.audio.headphone', 60],
  ['appliances.kitchen.washer', 330],
  ['appliances.environment.vacuum', 150],
  ['appliances.kitchen.refrigerators', 520],
  ['apparel.shoes', 70],
  ['electronics.tablet', 260],
  ['computers.desktop', 560],
  ['auto.accessories.player', 45],
  ['appliances.iron', 40],
  ['furniture.living_room.sofa', 450],
  ['furniture.bedroom.bed', 380],
  ['apparel.shoes.keds', 55],
  ['appliances.kitchen.microwave', 90],
  ['appliances.personal.hair_cutter', 30],
  ['electronics.audio.subwoofer', 110],
  ['apparel.shoes.sandals', 40],
  ['appliances.kitchen.hob', 260],
  ['appliances.kitchen.oven', 380],
  ['appliances.kitchen.hood', 210],
  ['appliances.kitchen.dishwasher', 400],
  ['appliances.kitchen.kettle', 35],
  ['appliances.kitchen.blender', 45],
  ['appliances.kitchen.mixer', 40],
  ['appliances.kitchen.juicer', 60],
  ['appliances.kitchen.coffee_machine', 320],
  ['appliances.kitchen.coffee_grinder', 30],
  ['appliances.kitchen.toster', 30],
  ['appliances.kitchen.meat_grinder', 90],
  ['appliances.kitchen.steam_cooker', 70],
  ['appliances.kitchen.grill', 80],
  ['appliances.environment.water_heater', 170],
  ['appliances.environment.air_heater', 60],
  ['appliances.environment.air_conditioner', 420],
  ['appliances.environment.fan', 40],
  ['appliances.environment.climate', 120],
  ['appliances.personal.massager', 70],
  ['appliances.personal.scales', 25],
  ['appliances.sewing_machine', 160],
  ['appliances.ironing_board', 35],
  ['computers.peripherals.printer', 190],
  ['computers.peripherals.monitor', 230],
  ['computers.peripherals.mouse', 20],
  ['computers.peripherals.keyboard', 30],
  ['computers.peripherals.camera', 45],
  ['computers.components.videocards', 380],
  ['computers.components.motherboard', 140],
  ['computers.components.cpu', 220],
  ['computers.components.memory', 60],
  ['computers.components.hdd', 70],
  ['computers.components.power_supply', 60],
  ['computers.components.cooler', 25],
  ['computers.network.router', 50],
  ['computers.ebooks', 110],
  ['electronics.audio.acoustic', 130],
  ['electronics.audio.microphone', 50],
  ['electronics.audio.music_tools.piano', 480],
  ['electronics.audio.music_tools.guitar', 230],
  ['electronics.camera.photo', 510],
  ['electronics.camera.video', 380],
  ['electronics.telephone', 35],
  ['electronics.video.projector', 520],
  ['auto.accessories.alarm', 120],
  ['auto.accessories.videoregister', 80],
  ['auto.accessories.radar', 90],
  ['auto.accessories.compressor', 45],
  ['auto.accessories.parktronic', 50],
  ['auto.accessories.winch', 160],
  ['auto.accessories.tyres.summer', 70],
  ['auto.accessories.tyres.winter', 85],
  ['apparel.shoes.slipons', 45],
  ['apparel.shoes.ballet_shoes', 40],
  ['apparel.shoes.moccasins', 60],
  ['apparel.shoes.step_ins', 50],
  ['apparel.trousers', 45],
  ['apparel.tshirt', 20],
  ['apparel.jeans', 50],
  ['apparel.jacket', 110],
  ['apparel.dress', 60],
  ['apparel.skirt', 35],
  ['apparel.costume', 90],
  ['apparel.underwear', 15],
  ['apparel.sock', 8],
  ['apparel.glove', 20],
  ['apparel.scarf', 20],
  ['apparel.belt', 25],
  ['apparel.shirt', 35],
  ['apparel.jumper', 45],
  ['construction.tools.drill', 110],
  ['construction.tools.saw', 130],
  ['construction.tools.welding', 190],
  ['construction.tools.generator', 420],
  ['construction.tools.light', 30],
  ['construction.tools.pump', 150],
  ['construction.tools.heater', 90],
  ['construction.tools.power_tools.grinder', 90],
  ['construction.components.faucet', 70],
  ['construction.components.bathtub', 260],
  ['furniture.living_room.cabinet', 240],
  ['furniture.living_room.chair', 120],
  ['furniture.living_room.shelving', 110],
  ['furniture.kitchen.table', 170],
  ['furniture.kitchen.chair', 60],
  ['furniture.bathroom.toilet', 190],
  ['furniture.bathroom.bath', 300],
  ['furniture.universal.mattress', 260],
  ['kids.toys', 30],
  ['kids.carriage', 330],
  ['kids.skates', 60],
  ['kids.swing', 80],
  ['kids.dolls', 25],
  ['kids.fmcg.diapers', 20],
  ['sport.bicycle', 320],
  ['sport.trainer', 380],
  ['sport.tennis', 70],
  ['sport.snowboard', 260],
  ['sport.ski', 280],
  ['country_yard.lawn_mower', 230],
  ['country_yard.cultivator', 350],
  ['country_yard.watering', 30],
  ['country_yard.furniture.hammok', 60],
  ['accessories.bag', 50],
  ['accessories.wallet', 25],
  ['accessories.umbrella', 20],
  ['medicine.tools.tonometer', 40],
  ['stationery.cartrige', 30],
];

/** Well-known brands by the top level of the category code, so that a category's brands look plausible. */
const BRANDS_BY_FAMILY: Readonly<Record<string, readonly string[]>> = {
  electronics: ['samsung', 'apple', 'xiaomi', 'huawei', 'oppo', 'sony', 'lg', 'meizu', 'nokia', 'jbl', 'canon'],
  computers: ['lenovo', 'acer', 'asus', 'hp', 'dell', 'msi', 'logitech', 'a4tech', 'defender', 'sven', 'kingston'],
  appliances: ['bosch', 'indesit', 'beko', 'haier', 'atlant', 'elenberg', 'artel', 'philips', 'redmond', 'tefal'],
  apparel: ['nike', 'adidas', 'puma', 'reebok', 'asics', 'respect', 'baden', 'rieker', 'tamaris', 'ecco'],
  auto: ['cordiant', 'nokian', 'michelin', 'pirelli', 'yokohama', 'prology', 'navitel', 'sho-me', 'starline'],
  construction: ['makita', 'dewalt', 'bosch', 'huter', 'patriot', 'zubr', 'interskol', 'grohe', 'cersanit'],
  furniture: ['brw', 'mebelvia', 'askona', 'ormatek', 'stolline', 'lazurit', 'shatura', 'ikea'],
  kids: ['lego', 'mattel', 'hasbro', 'chicco', 'cybex', 'carrello', 'hubelino', 'pampers'],
  sport: ['stels', 'forward', 'merida', 'head', 'fischer', 'nordway', 'torneo', 'oxygen'],
  country_yard: ['stihl', 'husqvarna', 'champion', 'greenworks', 'gardena', 'palisad'],
  accessories: ['samsonite', 'tony_perotti', 'fabretti', 'zest', 'doppler'],
  medicine: ['omron', 'and', 'microlife', 'beurer'],
  stationery: ['canon', 'hp', 'epson', 'brother', 'cactus'],
};

/** Syllables of made-up brands, for the long tail of small brands every category has. */
const SYLLABLES = ['ka', 'ri', 'to', 'mo', 'la', 've', 'zen', 'tro', 'ni', 'sa', 'lu', 'ko', 'bel', 'mar', 'tek'];
const MORE_SYLLABLES = ['ron', 'vi', 'dor', 'pa', 'ex', 'gal', 'nor', 'fi', 'ma', 'sto', 'lex', 'bo', 'ru', 'ta'];

/** How many made-up brands the categories draw from. */
const MADE_UP_BRANDS = 2_500;

/** One category: its exact id as text, and its code (empty for the group without one). */
export interface Category {
  id: string;
  code: string;
}

/**
 * The catalog: categories, and the rendered columns of every product. Products are stored category by
 * category, and categories group by group, so that a pick is an index into a contiguous range.
 */
export class Catalog {
  /** All categories; those without a code come first. */
  readonly categories: readonly Category[];
  /** How many categories (from index 0) have no code. */
  readonly uncodedCategories: number;
  /** The rendered product columns, see {@link Catalog.productStart}. */
  readonly bytes: Uint8Array;
  /** Where product i's bytes start: `product_id,category_id,category_code,brand,`. */
  readonly productStart: Uint32Array;
  /** Where product i's price starts (its columns before the price end there). */
  readonly priceStart: Uint32Array;
  /** Where product i's price ends. */
  readonly priceEnd: Uint32Array;
  /** The first product of each category. */
  readonly categoryFirst: Uint32Array;
  /** The products of each category. */
  readonly categorySize: Uint32Array;
  /** Per category, the cumulative pick weight within its group (1 at the group's last category). */
  private readonly cumulativeWeight: Float64Array;

  private constructor(parts: CatalogParts) {
    this.categories = parts.categories;
    this.uncodedCategories = parts.uncodedCategories;
    this.bytes = parts.bytes;
    this.productStart = parts.productStart;
    this.priceStart = parts.priceStart;
    this.priceEnd = parts.priceEnd;
    this.categoryFirst = parts.categoryFirst;
    this.categorySize = parts.categorySize;
    this.cumulativeWeight = parts.cumulativeWeight;
  }

  /** Builds the catalog of a seed; the same seed always gives the same catalog. */
  static build(seed: number): Catalog {
    return new Catalog(buildCatalog(Random.from(seed, 'catalog')));
  }

  /** Picks a category at its popularity, among those with a code or those without. */
  pickCategory(random: Random, coded: boolean): number {
    let low = coded ? this.uncodedCategories : 0;
    let high = (coded ? this.categories.length : this.uncodedCategories) - 1;
    const u = random.float();
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.cumulativeWeight[middle] as number) > u) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /**
   * Picks a product of a category. Squaring a uniform number makes the first products the popular ones
   * (product r of n has weight sqrt((r+1)/n) - sqrt(r/n)), as a store's views concentrate on its best sellers.
   */
  pickProduct(random: Random, category: number): number {
    const u = random.float();
    return (this.categoryFirst[category] as number) + Math.floor(u * u * (this.categorySize[category] as number));
  }

  /** The longest rendered product, price included, to size write buffers. */
  get longestProduct(): number {
    let longest = 0;
    for (let i = 0; i < this.productStart.length; i++) {
      longest = Math.max(longest, (this.priceEnd[i] as number) - (this.productStart[i] as number));
    }
    return longest;
  }
}

/** The weight of product rank r of n under {@link Catalog.pickProduct}. */
function productWeight(rank: number, size: number): number {
  return Math.sqrt((rank + 1) / size) - Math.sqrt(rank / size);
}

/** What a catalog is made of (its fields, as {@link buildCatalog} computes them). */
type CatalogParts = Pick<
  Catalog,
  | 'categories'
  | 'uncodedCategories'
  | 'bytes'
  | 'productStart'
  | 'priceStart'
  | 'priceEnd'
  | 'categoryFirst'
  | 'categorySize'
> & { cumulativeWeight: Float64Array };

function buildCatalog(random: Random): CatalogParts {
  const madeUpBrands = makeUpBrands(random);
  const categories: Category[] = [];
  const prices: number[] = [];
  const families: string[] = [];
  const weights: number[] = [];

  // the group without a code: random prices and families, Zipf weights in random order
  const familyNames = Object.keys(BRANDS_BY_FAMILY);
  const uncodedRanks = random.shuffle(Array.from({ length: UNCODED_CATEGORIES }, (_, i) => i));
  for (let i = 0; i < UNCODED_CATEGORIES; i++) {
    categories.push({ id: '', code: '' });
    prices.push(Math.exp(Math.log(5) + random.float() * Math.log(80)));
    families.push(familyNames[random.below(familyNames.length)] as string);
    weights.push(1 / ((uncodedRanks[i] as number) + 1));
  }

  // the group with a code: the taxonomy's order gives the weight; some codes have two ids, as published
  TAXONOMY.forEach(([code, price], rank) => {
    const ids = random.float() < 0.15 ? 2 : 1;
    for (let k = 0; k < ids; k++) {
      categories.push({ id: '', code });
      prices.push(price);
      families.push(code.slice(0, code.indexOf('.')));
      weights.push((k === 0 ? 0.8 : 0.2) / (rank + 1) / (ids === 1 ? 0.8 : 1));
    }
  });

  const usedIds = new Set<bigint>();
  for (const category of categories) category.id = uniqueCategoryId(random, usedIds).toString();

  const cumulativeWeight = new Float64Array(categories.length);
  const groupShare = new Float64Array(categories.length);
  for (const [first, end] of [
    [0, UNCODED_CATEGORIES],
    [UNCODED_CATEGORIES, categories.length],
  ] as const) {
    let total = 0;
    for (let c = first; c < end; c++) total += weights[c] as number;
    let running = 0;
    for (let c = first; c < end; c++) {
      groupShare[c] = (weights[c] as number) / total;
      running += groupShare[c] as number;
      cumulativeWeight[c] = running;
    }
    cumulativeWeight[end - 1] = 1;
  }

  // popular categories get more products, but less than in proportion (sqrt), so that small ones have some
  const categorySize = new Uint32Array(categories.length);
  const categoryFirst = new Uint32Array(categories.length);
  let rootShare = 0;
  for (let c = 0; c < categories.length; c++) rootShare += Math.sqrt(groupShare[c] as number);
  let products = 0;
  for (let c = 0; c < categories.length; c++) {
    categoryFirst[c] = products;
    categorySize[c] = 4 + Math.round((Math.sqrt(groupShare[c] as number) / rootShare) * PRODUCTS);
    products += categorySize[c] as number;
  }

  const brandOf = assignBrands(random, categories, families, madeUpBrands, categoryFirst, categorySize, groupShare);
  const rendered = renderProducts(random, categories, prices, categoryFirst, categorySize, brandOf);
  return {
    categories,
    uncodedCategories: UNCODED_CATEGORIES,
    categoryFirst,
    categorySize,
    cumulativeWeight,
    ...rendered,
  };
}

function makeUpBrands(random: Random): string[] {
  const brands = new Set<string>();
  while (brands.size < MADE_UP_BRANDS) {
    let name =
      (SYLLABLES[random.below(SYLLABLES.length)] as string) + MORE_SYLLABLES[random.below(MORE_SYLLABLES.length)];
    if (random.float() < 0.5) name += SYLLABLES[random.below(SYLLABLES.length)] as string;
    brands.add(name);
  }
  return [...brands];
}

function uniqueCategoryId(random: Random, used: Set<bigint>): bigint {
  for (;;) {
    const bits = (BigInt(random.next()) << 32n) | BigInt(random.next());
    const id = MIN_CATEGORY_ID + (bits % CATEGORY_ID_SPAN);
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
}

/**
 * Gives each product a brand from its category's few brands, then empties brands, product by product in
 * random order, while the events they would carry stay within {@link EMPTY_BRAND_SHARE} of their group.
 * The share is met in each group separately, so it holds whatever share of the month has a category code.
 */
function assignBrands(
  random: Random,
  categories: readonly Category[],
  families: readonly string[],
  madeUpBrands: readonly string[],
  categoryFirst: Uint32Array,
  categorySize: Uint32Array,
  groupShare: Float64Array,
): string[] {
  const brandOf: string[] = [];
  for (let c = 0; c < categories.length; c++) {
    const known = BRANDS_BY_FAMILY[families[c] as string] ?? [];
    const pool = random.shuffle([...known]).slice(0, 2 + random.below(Math.max(1, known.length - 1)));
    const tail = 2 + random.below(24);
    for (let k = 0; k < tail; k++) pool.push(madeUpBrands[random.below(madeUpBrands.length)] as string);
    for (let r = 0; r < (categorySize[c] as number); r++) {
      const u = random.float();
      brandOf.push(pool[Math.floor(u * u * pool.length)] as string);
    }
  }

  for (const [first, end] of [
    [0, UNCODED_CATEGORIES],
    [UNCODED_CATEGORIES, categories.length],
  ] as const) {
    const members: { product: number; weight: number }[] = [];
    for (let c = first; c < end; c++) {
      const size = categorySize[c] as number;
      for (let r = 0; r < size; r++) {
        members.push({
          product: (categoryFirst[c] as number) + r,
          weight: (groupShare[c] as number) * productWeight(r, size),
        });
      }
    }
    let emptied = 0;
    for (const { product, weight } of random.shuffle(members)) {
      if (emptied + weight > EMPTY_BRAND_SHARE) continue;
      brandOf[product] = '';
      emptied += weight;
    }
  }
  return brandOf;
}

/** Renders every product's columns into one buffer, and gives each product an id and a price. */
function renderProducts(
  random: Random,
  categories: readonly Category[],
  prices: readonly number[],
  categoryFirst: Uint32Array,
  categorySize: Uint32Array,
  brandOf: readonly string[],
): { bytes: Uint8Array; productStart: Uint32Array; priceStart: Uint32Array; priceEnd: Uint32Array } {
  const total = brandOf.length;
  const productStart = new Uint32Array(total);
  const priceStart = new Uint32Array(total);
  const priceEnd = new Uint32Array(total);
  const parts: string[] = [];
  const usedIds = new Set<number>();
  let offset = 0;

  for (let c = 0; c < categories.length; c++) {
    const category = categories[c] as Category;
    const size = categorySize[c] as number;
    // a category's products have nearby ids, as a store numbers what it lists together
    let productId = MIN_PRODUCT_ID + random.below(MAX_PRODUCT_ID - MIN_PRODUCT_ID - size * 64);
    for (let r = 0; r < size; r++) {
      productId += 1 + random.below(48);
      while (usedIds.has(productId)) productId++;
      usedIds.add(productId);
      const product = (categoryFirst[c] as number) + r;
      const cents = Math.min(
        MAX_PRICE_CENTS,
        Math.max(MIN_PRICE_CENTS, Math.round((prices[c] as number) * 100 * Math.exp(0.55 * random.gaussian()))),
      );
      const head = `${productId},${category.id},${category.code},${brandOf[product] as string},`;
      const price = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
      productStart[product] = offset;
      priceStart[product] = offset + head.length;
      priceEnd[product] = offset + head.length + price.length;
      offset += head.length + price.length;
      parts.push(head, price);
    }
  }
  return { bytes: Buffer.from(parts.join(''), 'latin1'), productStart, priceStart, priceEnd };
}
