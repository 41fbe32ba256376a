"""Sentences for festival's non-English voices, each in the voice's own language.

Written for this project (no external corpus): everyday statements and questions of 8–16 words,
about 2.5–5 s at the voices' normal rate, no sentence twice within a language. Every sentence
is encodable in the encoding its voice reads (:data:`benchmarks.corpus.synth.FESTIVAL_VOICES`).

Examples
--------
>>> from benchmarks.corpus.sentences_intl import SENTENCES_INTL
>>> sorted(SENTENCES_INTL)
['ca', 'cs', 'fi', 'it', 'ru']
>>> all(len(set(s)) == len(s) >= 20 for s in SENTENCES_INTL.values())
True
"""

from __future__ import annotations

SENTENCES_CA: tuple[str, ...] = (
    "El vell pescador va sortir al mar abans de l'alba.",
    "Si us plau, porta tres pomes i una barra de pa.",
    "La pluja va caure sobre la teulada tota la nit.",
    "Em pots dir on és l'estació de tren més propera?",
    "Ella va pintar la tanca del jardí de color groc.",
    "Un vent fred bufava pel port buit al migdia.",
    "Els nens reien mentre el gos perseguia la seva cua.",
    "El nostre tren surt demà a dos quarts de vuit del matí.",
    "Va oblidar el paraigua a l'autobús un altre cop.",
    "El cafè acabat de fer sempre fa més bona olor que gust.",
    "El museu obrirà la nova sala el dijous que ve.",
    "Les estrelles omplien el cel damunt de la vall tranquil·la.",
    "Vam mesurar el riu dues vegades abans de construir el pont.",
    "Ningú no esperava que el concert s'esgotés en una hora.",
    "La meva àvia guarda les receptes en una capsa de fusta.",
    "El pilot va anunciar un petit retard a causa de la boira.",
    "Gira a l'esquerra a la fleca i passa per davant de la font.",
    "La biblioteca estarà tancada per obres fins al mes de juny.",
    "La neu gruixuda cobria tots els camins que sortien del poble.",
    "Quina d'aquestes jaquetes creus que em queda millor?",
    "L'enginyer va revisar cada vàlvula amb molta paciència.",
    "Una família d'ànecs va creuar la carretera en fila índia.",
    "Prefereixo tornar a casa caminant que esperar l'últim autobús.",
    "Aquest estiu anirem a la muntanya amb els nostres cosins.",
)

SENTENCES_CS: tuple[str, ...] = (
    "Starý rybář vyplul na moře ještě před svítáním.",
    "Prosím, přines tři jablka a jeden bochník chleba.",
    "Déšť tiše bubnoval na plechovou střechu celou noc.",
    "Můžete mi říct, kde je nejbližší vlakové nádraží?",
    "Natřela zahradní plot jasně žlutou barvou.",
    "Studený vítr se v poledne hnal prázdným přístavem.",
    "Děti se smály, když štěně honilo svůj vlastní ocas.",
    "Náš vlak odjíždí zítra ráno v půl osmé.",
    "Zase zapomněl deštník v přeplněném autobuse.",
    "Čerstvá káva vždycky voní lépe, než chutná.",
    "Muzeum otevře svou novou galerii příští čtvrtek večer.",
    "Nad tichým údolím svítily jasné hvězdy.",
    "Než jsme postavili most, změřili jsme řeku dvakrát.",
    "Nikdo nečekal, že se koncert vyprodá za hodinu.",
    "Moje babička schovává recepty v dřevěné krabici.",
    "Pilot oznámil krátké zpoždění kvůli mlze.",
    "U pekárny zahněte doleva a jděte kolem kašny.",
    "Knihovna bude kvůli opravám zavřená až do června.",
    "Hustý sníh zakryl všechny silnice vedoucí z města.",
    "Která z těchto bund mi podle tebe sluší nejvíc?",
    "Inženýr zkontroloval každý ventil s velkou trpělivostí.",
    "Rodina kachen přešla silnici jedna za druhou.",
    "Raději půjdu domů pěšky, než abych čekal na poslední autobus.",
    "Letos v létě pojedeme s bratranci na hory.",
)

SENTENCES_IT: tuple[str, ...] = (
    "Il vecchio guardiano del faro salì le scale prima dell'alba.",
    "Per favore, porta tre mele e una pagnotta di pane fresco.",
    "La pioggia ha battuto sul tetto di lamiera tutta la notte.",
    "Mi sa dire dove si trova la stazione più vicina?",
    "Ha dipinto la staccionata del giardino di un giallo vivace.",
    "Un vento freddo soffiava sul porto vuoto a mezzogiorno.",
    "I bambini ridevano mentre il cucciolo si inseguiva la coda.",
    "Il nostro treno parte domani mattina alle sette e mezza.",
    "Ha dimenticato di nuovo l'ombrello sull'autobus affollato.",
    "Il caffè appena fatto ha sempre un profumo migliore del sapore.",
    "Il museo apre la sua nuova galleria giovedì prossimo.",
    "Le stelle luminose riempivano il cielo sopra la valle tranquilla.",
    "Abbiamo misurato il fiume due volte prima di costruire il ponte.",
    "Nessuno si aspettava che il concerto finisse esaurito in un'ora.",
    "Mia nonna conserva le sue ricette in una scatola di legno.",
    "Il pilota ha annunciato un breve ritardo a causa della nebbia.",
    "Gira a sinistra al forno e passa davanti alla fontana.",
    "La biblioteca resterà chiusa per lavori fino a giugno.",
    "Una neve spessa copriva tutte le strade che uscivano dal paese.",
    "Quale di queste giacche pensi che mi stia meglio?",
    "L'ingegnere ha controllato ogni valvola con grande pazienza.",
    "Una famiglia di anatre ha attraversato la strada in fila indiana.",
    "Preferisco tornare a casa a piedi che aspettare l'ultimo autobus.",
    "Quest'estate andremo in montagna con i nostri cugini.",
)

SENTENCES_RU: tuple[str, ...] = (
    "Старый смотритель маяка поднялся по лестнице до рассвета.",
    "Пожалуйста, принеси три яблока и буханку свежего хлеба.",
    "Дождь всю ночь тихо стучал по жестяной крыше.",
    "Скажите, пожалуйста, где находится ближайший вокзал?",
    "Она покрасила садовый забор в ярко-жёлтый цвет.",
    "Холодный ветер дул над пустой гаванью в полдень.",
    "Дети смеялись, пока щенок гонялся за своим хвостом.",
    "Наш поезд отправляется завтра в половине восьмого утра.",
    "Он снова забыл свой зонт в переполненном автобусе.",
    "Свежий кофе всегда пахнет лучше, чем на вкус.",
    "Музей откроет новую галерею в следующий четверг.",
    "Яркие звёзды заполнили небо над тихой долиной.",
    "Мы дважды измерили реку, прежде чем строить мост.",
    "Никто не ожидал, что билеты на концерт раскупят за час.",
    "Моя бабушка хранит свои рецепты в деревянной шкатулке.",
    "Пилот объявил о небольшой задержке из-за тумана.",
    "У пекарни поверните налево и пройдите мимо фонтана.",
    "Библиотека будет закрыта на ремонт до июня.",
    "Глубокий снег замёл все дороги, ведущие из города.",
    "Какая из этих курток, по-твоему, идёт мне больше всего?",
    "Инженер с большим терпением проверил каждый клапан.",
    "Семья уток перешла дорогу друг за другом.",
    "Я лучше пойду домой пешком, чем буду ждать последний автобус.",
    "Этим летом мы поедем в горы вместе с двоюродными братьями.",
)

SENTENCES_FI: tuple[str, ...] = (
    "Vanha majakanvartija kiipesi portaat ylös ennen aamunkoittoa.",
    "Tuo kolme omenaa ja yksi tuore leipä, kiitos.",
    "Sade rummutti hiljaa peltikattoa koko yön.",
    "Voisitteko kertoa, missä lähin rautatieasema on?",
    "Hän maalasi puutarhan aidan kirkkaan keltaiseksi.",
    "Kylmä tuuli puhalsi tyhjän sataman yli keskipäivällä.",
    "Lapset nauroivat, kun koiranpentu jahtasi omaa häntäänsä.",
    "Junamme lähtee huomenna aamulla puoli kahdeksalta.",
    "Hän unohti sateenvarjonsa taas täpötäyteen bussiin.",
    "Tuore kahvi tuoksuu aina paremmalta kuin se maistuu.",
    "Museo avaa uuden galleriansa ensi torstaina illalla.",
    "Kirkkaat tähdet täyttivät taivaan hiljaisen laakson yllä.",
    "Mittasimme joen kahdesti ennen kuin rakensimme sillan.",
    "Kukaan ei odottanut, että konsertti myytäisiin loppuun tunnissa.",
    "Isoäitini säilyttää reseptinsä puisessa laatikossa.",
    "Lentäjä ilmoitti lyhyestä viivästyksestä sumun takia.",
    "Käänny leipomon kohdalla vasemmalle ja kävele suihkulähteen ohi.",
    "Kirjasto on suljettu korjausten vuoksi kesäkuuhun asti.",
    "Paksu lumi peitti kaikki kaupungista lähtevät tiet.",
    "Mikä näistä takeista sopii mielestäsi minulle parhaiten?",
    "Insinööri tarkisti jokaisen venttiilin suurella kärsivällisyydellä.",
    "Sorsaperhe ylitti tien jonossa yksi kerrallaan.",
    "Kävelen mieluummin kotiin kuin odotan viimeistä bussia.",
    "Tänä kesänä menemme serkkujemme kanssa vuorille.",
)

SENTENCES_INTL: dict[str, tuple[str, ...]] = {
    "ca": SENTENCES_CA,
    "cs": SENTENCES_CS,
    "it": SENTENCES_IT,
    "ru": SENTENCES_RU,
    "fi": SENTENCES_FI,
}
"""Language code -> sentences spoken by festival's voices of that language."""
