/** The one check of a whole-number construct prop: `<owner>: <prop> is <v>; use <min> to <max>.` */
export function checkIntProp(owner: string, prop: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${owner}: ${prop} is ${value}; use ${min} to ${max}.`);
}
