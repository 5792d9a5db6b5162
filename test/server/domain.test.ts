import { expect } from 'chai';
import fc from 'fast-check';
import { gb11643CheckChar, idLast4, validateIdentity, validatePhone } from '../../server/domain/identity';
import { maskId, maskName, maskPhone, MASKED_NAME_MAX } from '../../server/domain/mask';
import {
  ancestors,
  anhuiCities,
  cityOf,
  getRegion,
  isRegionCode,
  provinceOf,
  regionContains,
  regionName,
} from '../../server/domain/regions';

const NOW = new Date('2024-06-01T04:00:00Z');
const withCheck = (first17: string) => first17 + gb11643CheckChar(first17);

describe('gb11643CheckChar', () => {
  it('matches the examples of GB 11643-1999', () => {
    expect(gb11643CheckChar('11010519491231002')).to.equal('X');
    expect(gb11643CheckChar('44052418800101001')).to.equal('4');
  });

  it('throws on anything but 17 digits', () => {
    expect(() => gb11643CheckChar('1101051949123100')).to.throw(RangeError);
    expect(() => gb11643CheckChar('1101051949123100X')).to.throw(RangeError);
  });
});

describe('validateIdentity', () => {
  describe('for a resident ID', () => {
    it('accepts a valid number and upper-cases a trailing x', () => {
      expect(validateIdentity('resident-id', '11010519491231002x', NOW)).to.deep.equal({
        ok: true,
        type: 'resident-id',
        normalized: '11010519491231002X',
      });
    });

    it('accepts constructed numbers from Anhui', () => {
      for (const first17 of ['34010419900307123', '34180220010228456', '34122119850101789']) {
        const id = withCheck(first17);
        expect(validateIdentity('resident-id', id, NOW), id).to.deep.include({ ok: true, normalized: id });
      }
    });

    it('accepts an abolished district under a listed province (the birthplace code of its time)', () => {
      expect(isRegionCode('342101')).to.equal(false);
      expect(validateIdentity('resident-id', withCheck('34210119700101123'), NOW).ok).to.equal(true);
    });

    it('returns ID_CHECK_DIGIT for a wrong check character', () => {
      const id = withCheck('34010419900307123');
      const wrong = id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
      expect(validateIdentity('resident-id', wrong, NOW)).to.include({ ok: false, code: 'ID_CHECK_DIGIT' });
    });

    it('returns ID_BIRTH_DATE for 1999-02-30', () => {
      expect(validateIdentity('resident-id', withCheck('34010419990230123'), NOW)).to.include({
        ok: false,
        code: 'ID_BIRTH_DATE',
      });
    });

    it('returns ID_BIRTH_DATE for a birth before 1900', () => {
      expect(validateIdentity('resident-id', '440524188001010014', NOW)).to.include({
        ok: false,
        code: 'ID_BIRTH_DATE',
      });
    });

    it('returns ID_BIRTH_DATE for a birth date after today in Asia/Shanghai', () => {
      expect(validateIdentity('resident-id', withCheck('34010420240602123'), NOW)).to.include({
        ok: false,
        code: 'ID_BIRTH_DATE',
      });
      expect(validateIdentity('resident-id', withCheck('34010420240601123'), NOW).ok).to.equal(true);
      // 16:00 UTC on 31 May is already 1 June in Shanghai.
      expect(
        validateIdentity('resident-id', withCheck('34010420240601123'), new Date('2024-05-31T16:00:00Z')).ok,
      ).to.equal(true);
      expect(
        validateIdentity('resident-id', withCheck('34010420240601123'), new Date('2024-05-31T15:59:59Z')).ok,
      ).to.equal(false);
    });

    it('returns ID_REGION for an unknown province', () => {
      expect(validateIdentity('resident-id', withCheck('99010419900307123'), NOW)).to.include({
        ok: false,
        code: 'ID_REGION',
      });
      expect(validateIdentity('resident-id', withCheck('83000019900307123'), NOW)).to.include({
        ok: false,
        code: 'ID_REGION',
      });
    });

    it('returns ID_FORMAT for 15-digit, short or lettered numbers', () => {
      for (const n of ['340104900307123', '3401041990030712', '34010419900307123A', '']) {
        expect(validateIdentity('resident-id', n, NOW), n).to.include({ ok: false, code: 'ID_FORMAT' });
      }
    });
  });

  it('returns ID_TYPE_UNKNOWN for an unknown type', () => {
    expect(validateIdentity('driving-licence', '123456', NOW)).to.include({ ok: false, code: 'ID_TYPE_UNKNOWN' });
  });

  it('accepts passports of 5 to 17 letters and digits, upper-cased', () => {
    expect(validateIdentity('passport', 'e1234 5678', NOW)).to.deep.equal({
      ok: true,
      type: 'passport',
      normalized: 'E12345678',
    });
    expect(validateIdentity('passport', 'AB123', NOW).ok).to.equal(true);
    for (const n of ['AB12', 'A'.repeat(18), 'E1234-5678'])
      expect(validateIdentity('passport', n, NOW), n).to.include({ code: 'ID_FORMAT' });
  });

  it('accepts home-return permits and HK/Macao residence permits', () => {
    for (const n of ['H12345678', 'm1234567801', withCheck('81000019900307123'), withCheck('82000019900307123')]) {
      expect(validateIdentity('hk-macao-permit', n, NOW).ok, n).to.equal(true);
    }
    expect(validateIdentity('hk-macao-permit', 'C12345678', NOW)).to.include({ code: 'ID_FORMAT' });
    expect(validateIdentity('hk-macao-permit', 'H123456789', NOW)).to.include({ code: 'ID_FORMAT' });
    expect(validateIdentity('hk-macao-permit', withCheck('83000019900307123'), NOW)).to.include({ code: 'ID_REGION' });
  });

  it('accepts Taiwan compatriot permits and Taiwan residence permits', () => {
    expect(validateIdentity('taiwan-permit', '01234567', NOW)).to.deep.equal({
      ok: true,
      type: 'taiwan-permit',
      normalized: '01234567',
    });
    expect(validateIdentity('taiwan-permit', withCheck('83000019900307123'), NOW).ok).to.equal(true);
    expect(validateIdentity('taiwan-permit', '0123456', NOW)).to.include({ code: 'ID_FORMAT' });
    expect(validateIdentity('taiwan-permit', withCheck('34010419900307123'), NOW)).to.include({ code: 'ID_REGION' });
    const bad = withCheck('83000019900307123');
    expect(validateIdentity('taiwan-permit', bad.slice(0, 17) + (bad[17] === '1' ? '2' : '1'), NOW)).to.include({
      code: 'ID_CHECK_DIGIT',
    });
  });
});

describe('idLast4', () => {
  it('returns the last four characters upper-cased', () => {
    expect(idLast4('11010519491231002X')).to.equal('002X');
    expect(idLast4('e12345678')).to.equal('5678');
  });

  it('throws on fewer than four characters', () => {
    expect(() => idLast4('ABC')).to.throw(RangeError);
  });
});

describe('validatePhone', () => {
  it('accepts mainland mobiles with or without +86 and separators', () => {
    for (const p of ['13812345678', '+86 138 1234 5678', '0086-138-1234-5678', '+8613812345678']) {
      expect(validatePhone(p), p).to.deep.equal({ ok: true, normalized: '13812345678' });
    }
    expect(validatePhone('19912345678')).to.deep.equal({ ok: true, normalized: '19912345678' });
  });

  it('refuses numbers that are not mainland mobiles for resident IDs', () => {
    for (const p of ['12812345678', '1381234567', '+447911123456', '055163451234', '+86 551 6345 1234']) {
      expect(validatePhone(p), p).to.include({ ok: false, code: 'PHONE_FORMAT' });
    }
  });

  it('accepts E.164 numbers for passport and permit holders', () => {
    expect(validatePhone('+44 7911 123456', 'passport')).to.deep.equal({ ok: true, normalized: '+447911123456' });
    expect(validatePhone('+852 9123 4567', 'hk-macao-permit')).to.deep.equal({ ok: true, normalized: '+85291234567' });
    expect(validatePhone('+0123456789', 'passport').ok).to.equal(false);
    expect(validatePhone('+1234567890123456', 'passport').ok).to.equal(false);
    expect(validatePhone('+86 551 6345 1234', 'passport').ok).to.equal(false);
  });
});

describe('maskName', () => {
  it('keeps the first and last characters of a Chinese name', () => {
    expect(maskName('张三')).to.equal('张*');
    expect(maskName('张三丰')).to.equal('张*丰');
    expect(maskName('欧阳娜娜')).to.equal('欧**娜');
    expect(maskName('买买提·艾力')).to.equal('买****力');
  });

  it('keeps the initial of each word of a Latin name', () => {
    expect(maskName('John Smith')).to.equal('J*** S****');
    expect(maskName('  Li   Na ')).to.equal('L* N*');
    expect(maskName('X')).to.equal('X*');
  });

  it('shortens long names to 32 characters', () => {
    expect(maskName('Maria Anna Sophia Elisabeth Von Habsburg Lothringen')).to.equal('M* A* S* E* V* H* L*');
    expect(Array.from(maskName('爱'.repeat(60)))).to.have.length(MASKED_NAME_MAX);
  });

  it('always contains "*" and has at most 32 characters (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }).filter((s) => s.trim() !== ''),
        (name) => {
          const masked = maskName(name);
          expect(masked).to.include('*');
          expect(Array.from(masked).length).to.be.at.most(MASKED_NAME_MAX);
        },
      ),
    );
  });

  it('throws on an empty name', () => {
    expect(() => maskName('   ')).to.throw(RangeError);
  });
});

describe('maskId', () => {
  it('shows the first and last four characters of a resident ID', () => {
    expect(maskId('34010419900307123X')).to.equal('3401**********123X');
  });

  it('shows less of shorter documents', () => {
    expect(maskId('E12345678')).to.equal('*****5678');
    expect(maskId('01234567')).to.equal('****4567');
    expect(maskId('H1234567801')).to.equal('H******7801');
  });

  it('never shows more than 8 characters nor more than half (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z0-9]{5,18}$/), (id) => {
        const masked = maskId(id);
        const shown = masked.replace(/\*/g, '').length;
        expect(masked).to.have.length(id.length);
        expect(masked).to.include('*');
        expect(shown).to.be.at.most(Math.min(8, Math.floor(id.length / 2)));
      }),
    );
  });
});

describe('maskPhone', () => {
  it('masks the middle four digits of a mainland mobile', () => {
    expect(maskPhone('13812345678')).to.equal('138****5678');
  });

  it('hides at least half of an international number', () => {
    expect(maskPhone('+447911123456')).to.equal('+44******3456');
    expect(maskPhone('+85291234567')).to.equal('+8******4567');
  });
});

describe('regions', () => {
  it('names Anhui, Hefei and Shushan', () => {
    expect(getRegion('340000')).to.deep.equal({ code: '340000', name: '安徽省', level: 'province' });
    expect(getRegion('340100')).to.deep.equal({ code: '340100', name: '合肥市', level: 'city', parent: '340000' });
    expect(getRegion('340104')).to.deep.equal({ code: '340104', name: '蜀山区', level: 'district', parent: '340100' });
    expect(regionName('340104')).to.equal('蜀山区');
  });

  it('knows listed codes only', () => {
    expect(isRegionCode('340104')).to.equal(true);
    expect(isRegionCode('999999')).to.equal(false);
    expect(isRegionCode('34010')).to.equal(false);
    expect(regionName('999999')).to.equal(undefined);
  });

  it('lists the 16 cities of Anhui, 合肥 to 宣城', () => {
    const cities = anhuiCities();
    expect(cities).to.have.length(16);
    expect(cities[0]).to.include({ code: '340100', name: '合肥市' });
    expect(cities[15]).to.include({ code: '341800', name: '宣城市' });
    expect(cities.every((c) => c.level === 'city' && c.parent === '340000')).to.equal(true);
  });

  it('finds the province and city of a code', () => {
    expect(provinceOf('340104')?.name).to.equal('安徽省');
    expect(cityOf('340104')?.name).to.equal('合肥市');
    expect(cityOf('340100')?.code).to.equal('340100');
    expect(cityOf('340000')).to.equal(undefined);
    expect(provinceOf('342101')?.code).to.equal('340000');
    expect(provinceOf('990000')).to.equal(undefined);
  });

  it("lists ancestors province first, through a municipality's 市辖区", () => {
    expect(ancestors('340104').map((r) => r.code)).to.deep.equal(['340000', '340100']);
    expect(ancestors('110105').map((r) => r.code)).to.deep.equal(['110000', '110100']);
    expect(ancestors('340000')).to.deep.equal([]);
  });

  it('keeps cities without districts as cities (东莞 441900)', () => {
    expect(getRegion('441900')).to.include({ level: 'city', name: '东莞市' });
    expect(ancestors('441900').map((r) => r.code)).to.deep.equal(['440000']);
  });

  it('contains a code in itself and its ancestors only', () => {
    expect(regionContains('340100', '340104')).to.equal(true);
    expect(regionContains('340000', '340104')).to.equal(true);
    expect(regionContains('340104', '340104')).to.equal(true);
    expect(regionContains('340104', '340100')).to.equal(false);
    expect(regionContains('340100', '340202')).to.equal(false);
    expect(regionContains('110000', '110105')).to.equal(true);
    expect(regionContains('340100', '340199')).to.equal(true);
  });
});
